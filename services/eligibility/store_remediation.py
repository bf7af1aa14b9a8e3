"""SQL of the remediation list: a read model of the service's own RemediationRequested and
CertifiabilityAssessed events, and the school's reading of it.

Built only from events (a replay truncates and rebuilds it, ``read_model_tables``), and in an
order-free way: the two events travel on different keys (session, learner), so a request may be
read after the assessment that resolves it. Each certifiable assessment's time is kept, and an item
is resolved by the first of them at or after its request, whichever arrives first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class RemediationItem:
    """One student a one-month check asked to place themselves (from RemediationRequested)."""

    session_id: str
    due_date: date
    learner_id: str
    uai: str
    division: str
    session_date: date
    status: str
    certifiable_count: int | None
    competences_needed: int | None
    zero_level: tuple[str, ...]
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class ListedRemediation:
    """An item as the school's list shows it, with the learner's names when the roster has them."""

    learner_id: str
    ine: str | None
    last_name: str | None
    first_name: str | None
    division: str
    session_id: str
    session_date: date
    due_date: date
    status: str
    certifiable_competences: int | None
    competences_needed: int | None
    competences_at_level_zero: list[str]
    requested_at: datetime
    resolved_at: datetime | None


class RemediationStore:
    """The remediation list's tables over one connection (a handler's transaction) or the pool."""

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self.conn = conn

    async def record_requests(self, items: Sequence[RemediationItem]) -> None:
        """Upsert the items of one or more checks; a session's items of an earlier due date (the
        session was moved and checked again) give way to the newer check's."""
        latest: dict[str, date] = {}
        for item in items:
            latest[item.session_id] = max(item.due_date, latest.get(item.session_id, item.due_date))
        unique = {
            (i.session_id, i.due_date, i.learner_id): i for i in items if i.due_date == latest[i.session_id]
        }
        items = list(unique.values())
        if not items:
            return
        await self.conn.execute(
            "DELETE FROM remediation_items r USING unnest($1::text[], $2::date[]) AS n(session_id, due_date)"
            " WHERE r.session_id = n.session_id AND r.due_date < n.due_date",
            list(latest),
            list(latest.values()),
        )
        await self.conn.execute(
            "INSERT INTO remediation_items (session_id, due_date, learner_id, uai, division, session_date,"
            " status, certifiable_count, competences_needed, zero_level, requested_at, resolved_at)"
            " SELECT i.session_id, i.due_date, i.learner_id, i.uai, i.division, i.session_date, i.status,"
            " i.certifiable_count, i.competences_needed,"
            " ARRAY(SELECT jsonb_array_elements_text(i.zero_level::jsonb)), i.requested_at,"
            " (SELECT min(c.assessed_at) FROM remediation_certifiable_at c"
            "   WHERE c.learner_id = i.learner_id AND c.assessed_at >= i.requested_at)"
            " FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::date[], $7::text[],"
            " $8::int[], $9::int[], $10::text[], $11::timestamptz[])"
            " AS i(session_id, due_date, learner_id, uai, division, session_date, status, certifiable_count,"
            " competences_needed, zero_level, requested_at)"
            " ON CONFLICT (session_id, due_date, learner_id) DO UPDATE SET uai = EXCLUDED.uai,"
            " division = EXCLUDED.division, session_date = EXCLUDED.session_date, status = EXCLUDED.status,"
            " certifiable_count = EXCLUDED.certifiable_count, competences_needed = EXCLUDED.competences_needed,"
            " zero_level = EXCLUDED.zero_level, requested_at = EXCLUDED.requested_at,"
            " resolved_at = EXCLUDED.resolved_at",
            [i.session_id for i in items],
            [i.due_date for i in items],
            [i.learner_id for i in items],
            [i.uai for i in items],
            [i.division for i in items],
            [i.session_date for i in items],
            [i.status for i in items],
            [i.certifiable_count for i in items],
            [i.competences_needed for i in items],
            [_json_list(i.zero_level) for i in items],
            [i.requested_at for i in items],
        )

    async def record_certifiable(self, assessed: Sequence[tuple[str, datetime]]) -> None:
        """Learners assessed certifiable at these times: keep the times, resolve the items they follow."""
        if not assessed:
            return
        learner_ids, times = [a[0] for a in assessed], [a[1] for a in assessed]
        await self.conn.execute(
            "INSERT INTO remediation_certifiable_at (learner_id, assessed_at)"
            " SELECT * FROM unnest($1::text[], $2::timestamptz[]) ON CONFLICT DO NOTHING",
            learner_ids,
            times,
        )
        await self.conn.execute(
            "UPDATE remediation_items r SET resolved_at = a.first"
            " FROM (SELECT r2.session_id, r2.due_date, r2.learner_id, min(n.assessed_at) AS first"
            "   FROM remediation_items r2 JOIN unnest($1::text[], $2::timestamptz[]) AS n(learner_id, assessed_at)"
            "   ON n.learner_id = r2.learner_id AND n.assessed_at >= r2.requested_at"
            "   GROUP BY r2.session_id, r2.due_date, r2.learner_id) AS a"
            " WHERE r.session_id = a.session_id AND r.due_date = a.due_date AND r.learner_id = a.learner_id"
            " AND (r.resolved_at IS NULL OR r.resolved_at > a.first)",
            learner_ids,
            times,
        )

    async def school_list(
        self, uai: str, division: str | None, include_resolved: bool
    ) -> list[ListedRemediation]:
        """The school's items (one class's when ``division``), of sessions not cancelled."""
        rows = await self.conn.fetch(
            "SELECT r.*, l.ine, l.last_name, l.first_name FROM remediation_items r"
            " LEFT JOIN learners l ON l.uai = r.uai AND l.learner_id::text = r.learner_id"
            " LEFT JOIN sessions s ON s.session_id = r.session_id"
            " WHERE r.uai = $1 AND ($2::text IS NULL OR r.division = $2)"
            " AND ($3 OR r.resolved_at IS NULL) AND NOT coalesce(s.cancelled, false)"
            " ORDER BY r.division, l.last_name, l.first_name, r.learner_id, r.session_date, r.session_id",
            uai,
            division,
            include_resolved,
        )
        return [
            ListedRemediation(
                learner_id=r["learner_id"],
                ine=r["ine"],
                last_name=r["last_name"],
                first_name=r["first_name"],
                division=r["division"],
                session_id=r["session_id"],
                session_date=r["session_date"],
                due_date=r["due_date"],
                status=r["status"],
                certifiable_competences=r["certifiable_count"],
                competences_needed=r["competences_needed"],
                competences_at_level_zero=list(r["zero_level"]),
                requested_at=r["requested_at"],
                resolved_at=r["resolved_at"],
            )
            for r in rows
        ]


def _json_list(values: Sequence[str]) -> str:
    """A text array as JSON, so a batch of arrays of different lengths travels as one text[]."""
    return json.dumps(list(values))
