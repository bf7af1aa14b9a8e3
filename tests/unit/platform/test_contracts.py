"""The public event contracts: envelope, catalogue coverage, committed JSON Schemas."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from shared.contracts.envelope import Envelope, EnvelopeError, uuid7
from shared.contracts.events import CATALOGUE, EVENT_TYPES, Event
from shared.contracts.schemas import SCHEMA_DIR, breaking_changes, render_catalogue, schema_of
from shared.contracts.topics import EVENT_TOPICS, SERVICES, all_topics, dead_letter_topic


def test_uuid7_has_version_7_rfc_variant_and_increases_with_time():
    ids = [uuid7() for _ in range(200)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert [i.int >> 80 for i in ids] == sorted(
        i.int >> 80 for i in ids
    )  # millisecond prefix never goes back
    assert len(set(ids)) == 200


def test_envelope_travels_as_cloudevents_binary_headers_and_back():
    when = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
    envelope = Envelope.new(
        source="/certibus/scheduler", type="certibus.scheduler.session_created.v1", subject="s-1", time=when
    )
    headers = envelope.to_headers()
    assert headers == {
        "ce_id": envelope.id,
        "ce_source": "/certibus/scheduler",
        "ce_type": "certibus.scheduler.session_created.v1",
        "ce_specversion": "1.0",
        "ce_time": "2027-03-10T08:00:00Z",
        "ce_subject": "s-1",
        "content-type": "application/json",
    }
    kafka_headers = [(k, v.encode()) for k, v in headers.items()]
    assert Envelope.from_headers(kafka_headers) == envelope


@pytest.mark.parametrize("drop", ["ce_id", "ce_type", "ce_subject", "ce_time"])
def test_envelope_without_a_required_header_is_refused_by_name(drop):
    headers = Envelope.new(source="/x", type="t.v1", subject="s").to_headers()
    del headers[drop]
    with pytest.raises(EnvelopeError, match=drop):
        Envelope.from_headers(headers)


def test_catalogue_covers_every_event_of_the_architecture():
    names = {cls.__name__ for cls in CATALOGUE}
    assert names >= {
        "LearnersImported",
        "LearnerRegistered",
        "LearnerUpdated",
        "LearnerDeactivated",
        "CertifiabilityAssessed",
        "RemediationRequested",
        "SessionCreated",
        "SessionUpdated",
        "SessionCancelled",
        "CandidatesEnrolled",
        "CandidateUnenrolled",
        "ConvocationsIssued",
        "SessionFinalised",
        "SessionFinalisationOverdue",
        "ResultsProcessed",
        "LivretExportProduced",
        "ClassResultsExported",
    }


def test_every_event_type_is_versioned_and_routed_to_its_owners_topic():
    for event_type, cls in EVENT_TYPES.items():
        service, _name, version = event_type.removeprefix("certibus.").split(".")
        assert service == cls.source_service and service in SERVICES
        assert version.startswith("v") and version[1:].isdigit()
        assert cls.topic == f"certibus.{service}"
        assert cls.subject_field in cls.model_fields


def test_topics_are_explicit_with_dead_letters_per_service():
    names = {spec.name for spec in all_topics()}
    publishers = {cls.source_service for cls in CATALOGUE}
    assert {f"certibus.{s}" for s in SERVICES if s in publishers} == set(EVENT_TOPICS) <= names
    assert {dead_letter_topic(s) for s in SERVICES} <= names
    assert all(spec.config()["cleanup.policy"] == "delete" for spec in all_topics())


@pytest.mark.parametrize("event_cls", CATALOGUE, ids=lambda c: c.event_type)
def test_committed_schema_is_not_broken_by_the_current_model(event_cls):
    path = SCHEMA_DIR / f"{event_cls.event_type}.json"
    assert path.exists(), f"{path.name} is not committed: run python -m shared.contracts.schemas"
    committed = json.loads(path.read_text(encoding="utf-8"))
    problems = breaking_changes(committed, schema_of(event_cls))
    assert not problems, (
        f"{event_cls.event_type} breaks its committed schema: {problems}. Publish a new version "
        "(….v2) alongside this one instead of changing it."
    )
    assert committed == schema_of(event_cls), (
        "docs/events is out of date: run python -m shared.contracts.schemas"
    )


def test_no_committed_event_type_has_disappeared():
    committed = {p.name.removesuffix(".json") for p in SCHEMA_DIR.glob("certibus.*.json")}
    assert committed <= set(EVENT_TYPES), f"event types removed: {committed - set(EVENT_TYPES)}"


class _Item(BaseModel):
    code: str


class _V1(BaseModel):
    session_id: str
    count: int
    note: str | None = None
    items: list[_Item] = []


def _schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema(mode="serialization")


def test_compatibility_rule_accepts_a_new_optional_field():
    class V1Plus(_V1):
        extra: str | None = None

    assert breaking_changes(_schema(_V1), _schema(V1Plus)) == []


def test_compatibility_rule_catches_removed_retyped_and_new_required_fields():
    class Item(BaseModel):
        label: str

    class Broken(BaseModel):
        session_id: int
        note: str | None = None
        items: list[Item] = []
        added: str

    problems = breaking_changes(_schema(_V1), _schema(Broken))
    assert any(p.startswith("session_id: type") for p in problems)
    assert "count: removed" in problems
    assert "items[].code: removed" in problems
    assert "added: new required field" in problems


def test_events_tolerate_unknown_fields_from_newer_producers():
    cls: type[Event] = EVENT_TYPES["certibus.scheduler.session_cancelled.v1"]
    event = cls.model_validate(
        {"session_id": "s", "uai": "0750001A", "cancelled_at": "2027-01-01T00:00:00Z", "future": 1}
    )
    assert event.subject() == "s"


def test_event_catalogue_page_is_generated_from_the_models():
    committed = (SCHEMA_DIR / "README.md").read_text(encoding="utf-8")
    assert committed == render_catalogue(), (
        "docs/events/README.md is stale: run python -m shared.contracts.schemas"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_committed_asyncapi_describes_the_current_code(service):
    from shared.asyncapi import ASYNCAPI_DIR, definitions, render

    [definition] = [d for d in definitions() if d.name == service]
    committed = (ASYNCAPI_DIR / f"{service}.json").read_text(encoding="utf-8")
    assert committed == render(definition), "docs/asyncapi is stale: run python -m shared.asyncapi"
    spec = json.loads(committed)
    published = {c["address"] for c in spec["channels"].values()}
    assert f"certibus.{service}" in published or not any(cls.source_service == service for cls in CATALOGUE)
