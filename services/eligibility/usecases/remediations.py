"""The remediation list a school reads: who must still place themselves, on which competences, by
when, and when each was resolved (the student became certifiable).

A plain read of the read model the service keeps from its own events (store_remediation.py): one
line per student and one-month check, of sessions not cancelled; ``division`` narrows it to a class,
``include_resolved=False`` to those still to do. The UAI is checked like every school route.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.eligibility.store_remediation import ListedRemediation, RemediationStore
from services.eligibility.usecases.queries import school_of


@dataclass(frozen=True, slots=True)
class RemediationList:
    uai: str
    division: str | None
    open: int
    resolved: int
    students: list[ListedRemediation]


async def remediation_list(
    store: RemediationStore, uai: str, division: str | None, include_resolved: bool
) -> RemediationList:
    """The school's (or class's) list, open items and resolved ones counted apart."""
    school = school_of(uai)
    items = await store.school_list(school, division, include_resolved)
    resolved = sum(item.resolved_at is not None for item in items)
    return RemediationList(school, division, len(items) - resolved, resolved, items)
