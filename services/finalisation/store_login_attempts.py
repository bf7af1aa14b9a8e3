"""SQL of the invigilators' login attempts: charged and refunded by bucket and window, pruned when old."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg


class LoginAttemptQueries:
    """Login attempts, mixed into ``FinalisationStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def charge_login_attempts(self, buckets: Sequence[str], window: datetime, limit: int) -> list[str]:
        """Count one attempt in each bucket's window; the buckets whose ``limit`` was already spent.

        One upsert per bucket row: a bucket of an older window starts again at 1, a spent one is
        left as it is (the row lock orders concurrent attempts of every replica).
        """
        charged = await self.conn.fetch(
            """
            INSERT INTO login_attempts (bucket, window_start, attempts)
            SELECT bucket, $2, 1 FROM unnest($1::text[]) AS bucket
            ON CONFLICT (bucket) DO UPDATE SET
                attempts = CASE WHEN login_attempts.window_start = EXCLUDED.window_start
                                THEN login_attempts.attempts + 1 ELSE 1 END,
                window_start = EXCLUDED.window_start
            WHERE login_attempts.window_start <> EXCLUDED.window_start OR login_attempts.attempts < $3
            RETURNING bucket
            """,
            list(buckets),
            window,
            limit,
        )
        done = {row["bucket"] for row in charged}
        return [b for b in buckets if b not in done]

    async def refund_login_attempts(self, buckets: Sequence[str], window: datetime) -> None:
        """A successful login does not count against its buckets."""
        await self.conn.execute(
            """
            UPDATE login_attempts SET attempts = attempts - 1
            WHERE bucket = ANY($1::text[]) AND window_start = $2 AND attempts > 0
            """,
            list(buckets),
            window,
        )

    async def prune_login_attempts(self, before: datetime) -> int:
        """Forget the windows that ended before ``before``; how many rows went."""
        status = await self.conn.execute("DELETE FROM login_attempts WHERE window_start < $1", before)
        return int(status.split()[-1])
