"""Every event field that holds personal data is marked so, so the catalogue and erasure can rely on it.

A field is personal by its name (names, birth date and place, sex, INE, e-mail, the free-text
comments about a candidate) or by its type (a model with personal fields, e.g. a list of
candidates, an e-mail type). A new event cannot forget the marking: this test names the field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import get_args

from pydantic import BaseModel

from shared.contracts.events import CATALOGUE, PERSONAL_DATA, Event, personal, personal_fields, routed
from shared.contracts.schemas import render_catalogue, schema_of

#: field names that hold personal data, whatever the event (lower-cased, without "_")
PERSONAL_NAME = re.compile(
    r"^(first|middle|third|last|given|family|sur|birth|full|preferred|usage|user|candidate|learner)?names?$"
    r"|^(prenom|nom)|birth|^sex$|^gender$|^ine$|nationalstudentid|e?mail|^phone|^examiners$"
    r"|externalid|comment$"
)


def _marked(info) -> bool:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return bool(extra.get(PERSONAL_DATA))


def _types(annotation) -> list:
    return [annotation, *(t for arg in get_args(annotation) for t in _types(arg))]


def unmarked_personal_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Fields of ``model`` (nested models too) personal by name or type but not marked personal."""
    missing = []
    for name, info in model.model_fields.items():
        types = _types(info.annotation)
        nested = [t for t in types if isinstance(t, type) and issubclass(t, BaseModel)]
        by_name = bool(PERSONAL_NAME.search(name.replace("_", "").lower()))
        by_type = any(getattr(t, "__name__", "") in {"EmailStr", "NameEmail"} for t in types) or (
            date in types and "birth" in name.replace("_", "").lower()
        )
        holds_personal = any(personal_fields(n) or unmarked_personal_fields(n) for n in nested)
        if (by_name or by_type or holds_personal) and not _marked(info):
            missing.append(prefix + name)
        for n in nested:
            missing += unmarked_personal_fields(n, f"{prefix}{name}.")
    return missing


def test_every_personal_field_of_every_event_is_marked():
    missing = {cls.event_type: unmarked_personal_fields(cls) for cls in CATALOGUE}
    assert not {t: m for t, m in missing.items() if m}, (
        "mark these fields with shared.contracts.events.personal(...)"
    )


def test_the_check_names_a_new_event_that_forgets_the_marking():
    class Guardian(BaseModel):
        email: str
        relation: str

    @routed("eligibility", "certibus.eligibility", "guardian_added", "learner_id")
    class GuardianAdded(Event):  # "born" is neither a personal name nor a birth-named date
        learner_id: str
        given_name: str
        date_of_birth: date
        guardians: list[Guardian]
        born: date | None = None
        division: str = personal()

    assert unmarked_personal_fields(GuardianAdded) == [
        "given_name",
        "date_of_birth",
        "guardians",
        "guardians.email",
    ]
    assert GuardianAdded.personal_data == ("division",)


def test_the_learner_events_carry_the_names_birth_date_and_ine_as_personal():
    registered = next(c for c in CATALOGUE if c.__name__ == "LearnerRegistered")
    assert {"ine", "first_name", "last_name", "birthdate"} <= set(registered.personal_data)
    enrolled = next(c for c in CATALOGUE if c.__name__ == "CandidatesEnrolled")
    assert {"candidates", "candidates.ine", "candidates.birthdate"} <= set(enrolled.personal_data)
    assert next(c for c in CATALOGUE if c.__name__ == "LearnerErasureRequested").personal_data == ()


def test_the_catalogue_and_schemas_say_which_fields_are_personal():
    page = render_catalogue()
    assert "Personal data: `ine`, `first_name`" in page
    assert "| `ine` | string or null | yes | **personal** |" in page
    schema = schema_of(next(c for c in CATALOGUE if c.__name__ == "ResultsProcessed"))
    assert "results.birthdate" in schema[PERSONAL_DATA]
    assert schema["$defs"]["CertificationResult"]["properties"]["birthdate"][PERSONAL_DATA] is True
