"""SQL of the year's plans: proposed, read and confirmed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.scheduler.domain.plans import PlanProposal


@dataclass(frozen=True, slots=True)
class PlanRow:
    plan_id: uuid.UUID
    uai: str
    school_year: str
    status: str
    proposal: PlanProposal
    created_at: datetime
    confirmed_at: datetime | None


def _plan(row: asyncpg.Record) -> PlanRow:
    return PlanRow(
        row["plan_id"],
        row["uai"],
        row["school_year"],
        row["status"],
        PlanProposal.from_json(row["proposal"]),
        row["created_at"],
        row["confirmed_at"],
    )


class PlanQueries:
    """Plans, mixed into ``SchedulerStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def insert_plan(
        self,
        *,
        plan_id: uuid.UUID,
        uai: str,
        school_year: str,
        status: str,
        proposal: PlanProposal,
        now: datetime,
        idempotency_key: str | None = None,
        request_fingerprint: str | None = None,
    ) -> bool:
        """Store a proposal; False (nothing stored) when the school has one under ``idempotency_key``."""
        return bool(
            await self.conn.fetchval(
                "INSERT INTO plans (plan_id, uai, school_year, status, proposal, created_at,"
                " idempotency_key, request_fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (uai, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
                " RETURNING true",
                plan_id,
                uai,
                school_year,
                status,
                proposal.to_json(),
                now,
                idempotency_key,
                request_fingerprint,
            )
        )

    async def plan_for_key(self, uai: str, idempotency_key: str) -> tuple[PlanRow, str | None] | None:
        """The school's proposal stored under ``idempotency_key`` and its request's fingerprint."""
        row = await self.conn.fetchrow(
            "SELECT * FROM plans WHERE uai = $1 AND idempotency_key = $2", uai, idempotency_key
        )
        return (_plan(row), row["request_fingerprint"]) if row else None

    async def school_of(self, resource_id: uuid.UUID) -> str | None:
        """The UAI of the session or plan ``resource_id`` (ids are UUIDs: never both); None if unknown."""
        return await self.conn.fetchval(
            "SELECT uai FROM sessions WHERE session_id = $1"
            " UNION ALL SELECT uai FROM plans WHERE plan_id = $1 LIMIT 1",
            resource_id,
        )

    async def get_plan(self, plan_id: uuid.UUID, *, for_update: bool = False) -> PlanRow | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM plans WHERE plan_id = $1" + (" FOR UPDATE" if for_update else ""), plan_id
        )
        return _plan(row) if row else None

    async def confirm_plan(self, plan_id: uuid.UUID, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE plans SET status = 'confirmed', confirmed_at = $2 WHERE plan_id = $1", plan_id, now
        )
