"""SQL of Pix's results: each session's candidates' results, replaced as imports arrive, and the imports' record."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from services.finalisation.domain.results import ResultsImport


class ResultQueries:
    """Results, mixed into ``FinalisationStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def session_results(self, session_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Each session's current results by candidate id (the stored ``to_payload()`` dicts)."""
        rows = await self.conn.fetch(
            "SELECT session_id, candidate_id, result FROM session_results WHERE session_id = ANY($1::text[])",
            list(session_ids),
        )
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for row in rows:
            results.setdefault(row["session_id"], {})[row["candidate_id"]] = row["result"]
        return results

    async def replace_results(self, changes: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        """Write the changed results of every session in one statement (``{session: {candidate: …}}``)."""
        rows = [(sid, cid, p) for sid, by_candidate in changes.items() for cid, p in by_candidate.items()]
        if not rows:
            return
        await self.conn.execute(
            """
            INSERT INTO session_results (session_id, candidate_id, certification_id, result)
            SELECT r.session_id, r.candidate_id, r.certification_id, r.result::jsonb
            FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
                AS r(session_id, candidate_id, certification_id, result)
            ON CONFLICT (session_id, candidate_id) DO UPDATE SET
                certification_id = EXCLUDED.certification_id, result = EXCLUDED.result
            """,
            [sid for sid, _, _ in rows],
            [cid for _, cid, _ in rows],
            [p["certification_id"] for _, _, p in rows],
            [json.dumps(p) for _, _, p in rows],
        )

    async def record_imports(self, imports: Sequence[ResultsImport]) -> None:
        """One ``results_imports`` row per session an import changed, in one statement."""
        if not imports:
            return
        await self.conn.execute(
            """
            INSERT INTO results_imports (session_id, source, file_name, file_sha256, fingerprint,
                matched, unmatched, imported_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::int[], $7::int[], $8::timestamptz[])
            """,
            [i.session_id for i in imports],
            [i.source.value for i in imports],
            [i.file_name for i in imports],
            [i.file_sha256 for i in imports],
            [i.fingerprint for i in imports],
            [i.matched for i in imports],
            [i.unmatched for i in imports],
            [i.imported_at for i in imports],
        )

    async def has_results(self, session_id: str) -> bool:
        """A result of the session arrived (then its finalisation is what Pix processed)."""
        return bool(
            await self.conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM session_results WHERE session_id = $1)", session_id
            )
        )

    async def held_certifications(self, certification_ids: Sequence[int]) -> set[int]:
        """Those of these Pix certification ids already held as a candidate's result."""
        rows = await self.conn.fetch(
            "SELECT DISTINCT certification_id FROM session_results WHERE certification_id = ANY($1::bigint[])",
            list(certification_ids),
        )
        return {r["certification_id"] for r in rows}
