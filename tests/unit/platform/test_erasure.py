"""What every service's erasure shares: which learners an event names, and a payload erased in place."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from shared.contracts.events import (
    CandidatesEnrolled,
    EnrolledCandidate,
    LearnerErasureRequested,
    LearnerUpdated,
    personal_fields,
)
from shared.erasure import ERASED_BIRTHDATE, ERASED_VALUES, erase_fields, erase_in_payload, learner_ids_of

NOW = datetime(2027, 3, 1, tzinfo=UTC)


def candidate(learner_id: str, last_name: str) -> EnrolledCandidate:
    return EnrolledCandidate(
        candidate_id=f"c-{learner_id}",
        learner_id=learner_id,
        ine="1234567890A",
        first_name="Léa",
        last_name=last_name,
        birthdate=date(2011, 3, 14),
        division="3A",
    )


def enrolment() -> CandidatesEnrolled:
    return CandidatesEnrolled(
        session_id="s-1",
        uai="0750001A",
        candidates=[candidate("l-1", "Dupont"), candidate("l-2", "Martin")],
        enrolled_at=NOW,
    )


def test_the_learners_an_event_names_nested_or_not():
    assert learner_ids_of(enrolment()) == {"l-1", "l-2"}
    erasure = LearnerErasureRequested(learner_id="l-9", uai="0750001A", requested_by="op", requested_at=NOW)
    assert learner_ids_of(erasure) == {"l-9"}
    assert learner_ids_of({"session_id": "s"}) == set()


def test_only_the_named_learner_is_erased_and_the_payload_stays_valid():
    payload = json.loads(enrolment().model_dump_json())
    erased, changed = erase_in_payload(payload, "l-1")
    assert changed == 1
    gone, kept = erased["candidates"]
    assert (gone["ine"], gone["first_name"], gone["last_name"], gone["birthdate"]) == (
        None,
        "",
        "",
        ERASED_BIRTHDATE.isoformat(),
    )
    assert gone["candidate_id"] == "c-l-1" and gone["division"] == "3A"  # what counts is kept
    assert kept == payload["candidates"][1]
    assert CandidatesEnrolled.model_validate(erased).candidates[0].last_name == ""
    assert erase_in_payload(erased, "l-1") == (erased, 0)  # a second erasure changes nothing


def test_every_personal_field_of_a_learner_snapshot_has_an_erased_value():
    event = LearnerUpdated(
        learner_id="l-1",
        uai="0750001A",
        ine="1234567890A",
        first_name="Léa",
        middle_name="Marie",
        last_name="Dupont",
        birthdate=date(2011, 3, 14),
        sex="F",
        birth_city="Dijon",
        division="3A",
    )
    assert set(personal_fields(LearnerUpdated)) <= set(ERASED_VALUES)
    erased, changed = erase_fields(json.loads(event.model_dump_json()))
    assert changed == 1
    assert not {k: v for k, v in erased.items() if k in ERASED_VALUES and v not in (None, "", "1900-01-01")}
    assert LearnerUpdated.model_validate(erased).division == "3A"


def test_every_personal_field_next_to_a_learner_id_in_the_catalogue_has_an_erased_value():
    """A new personal field about a learner cannot be forgotten by the erasure."""
    from pydantic import BaseModel

    from shared.contracts.event_base import _models_in
    from shared.contracts.events import CATALOGUE

    def about_a_learner(model: type[BaseModel]) -> list[type[BaseModel]]:
        found = [model] if "learner_id" in model.model_fields else []
        for info in model.model_fields.values():
            for nested in _models_in(info.annotation):
                found += about_a_learner(nested)
        return found

    models = {m for cls in CATALOGUE for m in about_a_learner(cls)}
    assert {m.__name__ for m in models} >= {"LearnerUpdated", "EnrolledCandidate", "CertificationResult"}
    missing = {
        m.__name__: sorted(set(f for f in personal_fields(m) if "." not in f) - set(ERASED_VALUES))
        for m in models
    }
    assert not {k: v for k, v in missing.items() if v}, "add them to shared.erasure.ERASED_VALUES"
