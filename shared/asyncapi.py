"""The event side of each service, described as AsyncAPI by FastStream and committed under docs/asyncapi/.

``python -m shared.asyncapi`` rewrites docs/asyncapi/<service>.json from the code: what each
service publishes (one channel per event type, with its pydantic schema) and what it consumes.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared.contracts.events import CATALOGUE
from shared.contracts.topics import SERVICES
from shared.service import Runtime, ServiceDefinition

ASYNCAPI_DIR = Path(__file__).resolve().parents[1] / "docs" / "asyncapi"


def describe(definition: ServiceDefinition) -> dict:
    broker = KafkaBroker("kafka:9092", logger=logging.getLogger("faststream"))
    runtime = Runtime(definition, definition.settings_class(), pool=None, broker=broker, relay=None)  # type: ignore[arg-type]
    if definition.wire:
        definition.wire(runtime)
    for consumer in runtime.consumers:
        consumer.subscribe(*consumer.topics)
    for event_cls in (c for c in CATALOGUE if c.source_service == definition.name):
        broker.publisher(
            event_cls.topic,
            title=f"{event_cls.topic}:{event_cls.event_type}",
            description=(event_cls.__doc__ or event_cls.__name__).strip().splitlines()[0]
            + f" Key and ce_subject: {event_cls.subject_field}; ce_type: {event_cls.event_type}."
            + (
                f" Personal data (erase on LearnerErasureRequested): {', '.join(event_cls.personal_data)}."
                if event_cls.personal_data
                else " Personal data: none."
            ),
            schema=event_cls,
        )
    spec = AsyncAPI(broker, title=f"certibus {definition.name}", version="1", schema_version="3.0.0")
    return json.loads(spec.to_specification().to_json())


def render(definition: ServiceDefinition) -> str:
    return json.dumps(describe(definition), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def definitions() -> list[ServiceDefinition]:
    return [importlib.import_module(f"services.{name}.app").definition for name in SERVICES]


def main() -> None:
    ASYNCAPI_DIR.mkdir(parents=True, exist_ok=True)
    for definition in definitions():
        path = ASYNCAPI_DIR / f"{definition.name}.json"
        path.write_text(render(definition), encoding="utf-8")
        print(path)


if __name__ == "__main__":
    main()
