"""SQL of the campaign imports and of the learners' certifiability assessments, with the disagreements and the school's reading."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.eligibility.domain.certifiability import (
    AssessmentOrigin,
    CertifiabilityAssessment,
    CertifiabilityStatus,
    CurrentAssessment,
    Disagreement,
)


def _assessment(row: asyncpg.Record) -> CertifiabilityAssessment:
    return CertifiabilityAssessment(
        str(row["learner_id"]),
        CertifiabilityStatus(row["status"]),
        row["certifiable_count"],
        row["levels"],
        row["shared_at"],
        row["source_line"],
        (),
        row["pix_total"],
    )


@dataclass(frozen=True, slots=True)
class LearnerCertifiability:
    """An active learner of a dashboard with their stored assessment (None: never assessed)."""

    learner_id: str
    ine: str
    first_name: str
    last_name: str
    division: str
    source: str | None
    assessment: CertifiabilityAssessment | None
    origin: str | None = None  # campaign_export / orga_certificability
    certifiable_at: date | None = None  # Orga's computation day (orga_certificability only)


class AssessmentQueries:
    """Campaign imports and assessments, mixed into ``EligibilityStore`` (store.py); ``self.conn`` is its connection."""

    conn: asyncpg.Connection | asyncpg.Pool

    async def insert_campaign_import(self, **values: Any) -> None:
        values["unmatched"] = json.dumps(values["unmatched"])
        values["ambiguous"] = json.dumps(values["ambiguous"])
        names = list(values)
        await self.conn.execute(
            f"INSERT INTO campaign_imports ({', '.join(names)})"
            f" VALUES ({', '.join(f'${i + 1}' for i in range(len(names)))})",
            *values.values(),
        )

    async def current_assessments(self, learner_ids: Sequence[str]) -> dict[str, CurrentAssessment]:
        """Each learner's stored status, origin and date (the share's or Orga's computation's)."""
        rows = await self.conn.fetch(
            "SELECT learner_id, status, origin, CASE WHEN origin = 'orga_certificability'"
            " THEN certifiable_at ELSE shared_at END AS dated"
            " FROM assessments WHERE learner_id = ANY($1::uuid[])",
            [uuid.UUID(i) for i in learner_ids],
        )
        return {
            str(r["learner_id"]): CurrentAssessment(
                CertifiabilityStatus(r["status"]), AssessmentOrigin(r["origin"]), r["dated"]
            )
            for r in rows
        }

    async def upsert_assessments(
        self,
        uai: str,
        assessments: Sequence[CertifiabilityAssessment],
        source: str,
        import_id: str,
        now: datetime,
    ) -> None:
        if not assessments:
            return
        await self.conn.execute(
            "INSERT INTO assessments (learner_id, uai, status, certifiable_count, levels, pix_total,"
            " shared_at, source, source_line, import_id, assessed_at)"
            " SELECT a.learner_id, $2, a.status, a.certifiable_count, a.levels::jsonb, a.pix_total,"
            " a.shared_at, $3, a.source_line, $4, $5"
            " FROM unnest($1::uuid[], $6::text[], $7::int[], $8::text[], $9::int[], $10::date[], $11::int[])"
            " AS a(learner_id, status, certifiable_count, levels, pix_total, shared_at, source_line)"
            " ON CONFLICT (learner_id) DO UPDATE SET uai = EXCLUDED.uai, status = EXCLUDED.status,"
            " certifiable_count = EXCLUDED.certifiable_count, levels = EXCLUDED.levels,"
            " pix_total = EXCLUDED.pix_total, shared_at = EXCLUDED.shared_at, source = EXCLUDED.source,"
            " source_line = EXCLUDED.source_line, import_id = EXCLUDED.import_id,"
            " assessed_at = EXCLUDED.assessed_at, origin = 'campaign_export', certifiable_at = NULL",
            [uuid.UUID(a.learner_id) for a in assessments],
            uai,
            source,
            uuid.UUID(import_id),
            now,
            [a.status.value for a in assessments],
            [a.certifiable_count for a in assessments],
            [None if a.levels is None else json.dumps(dict(a.levels)) for a in assessments],
            [a.pix_total for a in assessments],
            [a.shared_at for a in assessments],
            [a.source_line for a in assessments],
        )

    async def insert_disagreements(
        self, import_id: str, disagreements: Sequence[tuple[str, Disagreement]]
    ) -> None:
        if not disagreements:
            return
        await self.conn.execute(
            "INSERT INTO assessment_disagreements (import_id, learner_id, rule, file_value, computed_value, line)"
            " SELECT $1, d.learner_id, d.rule, d.file_value, d.computed_value, d.line"
            " FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[])"
            " AS d(learner_id, rule, file_value, computed_value, line)"
            " ON CONFLICT DO NOTHING",
            uuid.UUID(import_id),
            [uuid.UUID(learner_id) for learner_id, _ in disagreements],
            [d.rule.value for _, d in disagreements],
            [str(d.file_value) for _, d in disagreements],
            [str(d.computed_value) for _, d in disagreements],
            [d.line for _, d in disagreements],
        )

    async def assessments_of(self, learner_ids: Iterable[str]) -> dict[str, CertifiabilityAssessment]:
        """Stored assessments as domain objects (for dashboards and the one-month check)."""
        ids = [uuid.UUID(i) for i in learner_ids]
        rows = await self.conn.fetch(
            "SELECT learner_id, status, certifiable_count, levels, shared_at, source_line, pix_total"
            " FROM assessments WHERE learner_id = ANY($1::uuid[])",
            ids,
        )
        return {str(r["learner_id"]): _assessment(r) for r in rows}

    async def school_certifiability(
        self, uai: str, division: str | None = None
    ) -> list[LearnerCertifiability]:
        """Active learners of a school (or one class) with their assessment, if any."""
        rows = await self.conn.fetch(
            "SELECT l.learner_id, l.ine, l.first_name, l.last_name, l.usage_name, l.division,"
            " a.status, a.certifiable_count, a.levels, a.shared_at, a.source_line, a.pix_total, a.source,"
            " a.origin, a.certifiable_at"
            " FROM learners l LEFT JOIN assessments a USING (learner_id)"
            " WHERE l.uai = $1 AND l.active AND ($2::text IS NULL OR l.division = $2)"
            " ORDER BY l.division, l.last_name, l.first_name, l.learner_id",
            uai,
            division,
        )
        return [
            LearnerCertifiability(
                str(r["learner_id"]),
                r["ine"],
                r["first_name"],
                r["last_name"],
                r["division"],
                r["source"],
                None if r["status"] is None else _assessment(r),
                r["origin"],
                r["certifiable_at"],
            )
            for r in rows
        ]
