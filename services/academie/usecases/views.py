"""What the operator's page reads: every school's card, the overdue finalisations, the totals.

The cards are derived on each read from the read model (services.academie.domain.card): an
académie has a few hundred schools, a read loads them all in four queries, filters and sorts in
memory and pages; nothing derived is stored, so nothing can lag the events.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.academie.domain.csv_export import render_csv
from services.academie.domain.schools import (
    SchoolFilter,
    SchoolProgress,
    Summary,
    progress,
    select,
    summarise,
)
from services.academie.store import OverdueSession
from services.academie.usecases import BeginWork
from shared.errors import DomainError

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SchoolPage:
    total: int
    limit: int
    offset: int
    schools: list[SchoolProgress]


async def _schools(begin: BeginWork) -> list[SchoolProgress]:
    async with begin() as work:
        facts = await work.store.school_facts()
    return [progress(f) for f in facts]


async def list_schools(begin: BeginWork, where: SchoolFilter, *, limit: int, offset: int) -> SchoolPage:
    """The schools the filter accepts, furthest behind first, ``limit`` of them from ``offset``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise DomainError("page.invalid", f"limit is 1 to {MAX_LIMIT}", field="limit", value=limit)
    if offset < 0:
        raise DomainError("page.invalid", "offset is 0 or more", field="offset", value=offset)
    selected = select(await _schools(begin), where)
    return SchoolPage(len(selected), limit, offset, selected[offset : offset + limit])


async def schools_csv(begin: BeginWork, where: SchoolFilter) -> bytes:
    """Every school the filter accepts, in the list's order, as the CSV file."""
    return render_csv(select(await _schools(begin), where))


async def summary(begin: BeginWork, where: SchoolFilter | None = None) -> Summary:
    """Totals per step and the certifiability rate, over the schools the filter accepts (all)."""
    return summarise(select(await _schools(begin), where or SchoolFilter()))


async def overdue(begin: BeginWork) -> list[OverdueSession]:
    """Sessions whose finalisation is overdue and still not done, the longest due first."""
    async with begin() as work:
        return await work.store.overdue_sessions()
