"""SQL of the Orga certificability import: its file record and its assessments.

The eligibility store (store.py) plus the two statements this import adds, kept apart by purpose
so store.py does not keep growing; ``transactions`` gives the use case a unit of work on it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.eligibility.domain.certifiability import CertifiabilityStatus
from services.eligibility.store import EligibilityStore
from shared import usecases as shared_usecases
from shared.outbox import UnitOfWork


@dataclass(frozen=True, slots=True)
class OrgaAssessment:
    """One learner's status as Pix Orga computed it on ``certifiable_at``, from a file's line."""

    learner_id: str
    status: CertifiabilityStatus
    certifiable_at: date
    line: int


class CertificabilityStore(EligibilityStore):
    """The eligibility schema, with the Orga certificability import's statements."""

    async def insert_certificability_import(self, **values: Any) -> None:
        values["unmatched"] = json.dumps(values["unmatched"])
        names = list(values)
        await self.conn.execute(
            f"INSERT INTO certificability_imports ({', '.join(names)})"
            f" VALUES ({', '.join(f'${i + 1}' for i in range(len(names)))})",
            *values.values(),
        )

    async def upsert_orga_assessments(
        self, uai: str, assessments: Sequence[OrgaAssessment], source: str, import_id: str, now: datetime
    ) -> None:
        """Store Orga's status (no levels: Orga gives none), replacing whatever was there."""
        if not assessments:
            return
        await self.conn.execute(
            "INSERT INTO assessments (learner_id, uai, status, certifiable_count, levels, pix_total,"
            " shared_at, source, source_line, import_id, assessed_at, origin, certifiable_at)"
            " SELECT a.learner_id, $2, a.status, NULL, NULL, NULL, NULL, $3, a.line, $4, $5,"
            " 'orga_certificability', a.certifiable_at"
            " FROM unnest($1::uuid[], $6::text[], $7::int[], $8::date[]) AS a(learner_id, status, line, certifiable_at)"
            " ON CONFLICT (learner_id) DO UPDATE SET uai = EXCLUDED.uai, status = EXCLUDED.status,"
            " certifiable_count = NULL, levels = NULL, pix_total = NULL, shared_at = NULL,"
            " source = EXCLUDED.source, source_line = EXCLUDED.source_line, import_id = EXCLUDED.import_id,"
            " assessed_at = EXCLUDED.assessed_at, origin = EXCLUDED.origin,"
            " certifiable_at = EXCLUDED.certifiable_at",
            [uuid.UUID(a.learner_id) for a in assessments],
            uai,
            source,
            uuid.UUID(import_id),
            now,
            [a.status.value for a in assessments],
            [a.line for a in assessments],
            [a.certifiable_at for a in assessments],
        )


#: one transaction of the import: the store above and the outbox
CertificabilityWork = shared_usecases.StoreWork[CertificabilityStore]


def transactions(
    begin: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
) -> Callable[[], AbstractAsyncContextManager[CertificabilityWork]]:
    return shared_usecases.transactions(begin, CertificabilityStore)
