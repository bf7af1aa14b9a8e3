"""The amendment use case on the in-memory store: one event and the replaced form kept, or nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.finalisation.domain.finalisation import CandidateReport
from services.finalisation.usecases import amendment, invigilation
from services.finalisation.usecases.finalisation import FinalisationForm
from shared.contracts.events import SessionFinalisationAmended
from shared.errors import DomainError
from tests.unit.finalisation.fakes import InMemoryFinalisation
from tests.unit.finalisation.finalisation_builders import T0, candidate
from tests.unit.finalisation.test_usecases_finalisation import LATER, finalise

WINDOW = timedelta(hours=48)
REPORTS = [
    CandidateReport("c1", True),
    CandidateReport("c2", True, "candidate"),
    CandidateReport("c3", False),
]


@pytest.fixture
async def finalised() -> InMemoryFinalisation:
    service = InMemoryFinalisation()
    service.seed([candidate(1), candidate(2), candidate(3)])
    for cid in ("c1", "c2"):
        await invigilation.confirm_presence(service.begin, "sess-1", cid, now=T0)
        await invigilation.start_test(service.begin, "sess-1", cid, now=T0)
    await invigilation.complete_test(service.begin, "sess-1", "c1", now=T0 + timedelta(minutes=100))
    await finalise(service)
    return service


def amend(service: InMemoryFinalisation, reports=REPORTS, *, now=LATER + timedelta(hours=1), **overrides):
    values = {
        "reports": reports,
        "has_incident": False,
        "has_joining_issue": False,
        "examiner_global_comment": "Abandon de c2",
    } | overrides
    return amendment.amend(
        service.begin, "sess-1", FinalisationForm(**values), now=now, window=WINDOW, by="referent-1"
    )


async def test_an_amendment_raises_its_event_and_keeps_the_form_it_replaces(finalised):
    first = finalised.store.tables.finalisations["sess-1"].payload
    event = await amend(finalised)
    assert finalised.published_of(SessionFinalisationAmended) == [event]
    assert (event.amendment, event.amended_by, event.finalised_at) == (1, "referent-1", LATER)
    recorded = finalised.store.tables.finalisations["sess-1"]
    assert recorded.payload["examiner_global_comment"] == "Abandon de c2" and recorded.amendments == 1
    assert finalised.store.tables.amendments[("sess-1", 1)] == first
    assert (await amend(finalised, examiner_global_comment=None)).amendment == 2


async def test_a_refused_amendment_changes_nothing(finalised):
    before = finalised.store.tables.finalisations["sess-1"]
    absent_made_present = [*REPORTS[:2], CandidateReport("c3", True, "technical")]
    for call, code in (
        (amend(finalised, absent_made_present), "finalisation.amendment_changes_presence"),
        (amend(finalised, now=LATER + WINDOW + timedelta(seconds=1)), "finalisation.amendment_too_late"),
    ):
        with pytest.raises(DomainError) as refused:
            await call
        assert refused.value.code == code
    finalised.store.tables.results["sess-1"] = {"c1": {"certification_id": 1}}
    with pytest.raises(DomainError) as refused:
        await amend(finalised)
    assert refused.value.code == "finalisation.results_received"
    assert finalised.store.tables.finalisations["sess-1"] == before
    assert finalised.published_of(SessionFinalisationAmended) == [] and not finalised.store.tables.amendments
