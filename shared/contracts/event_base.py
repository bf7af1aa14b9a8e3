"""What every event of the catalogue is: the ``Event`` base, its routing decorator, personal-data marks.

The catalogue itself is split by owning service (events_eligibility, events_scheduler,
events_finalisation, events_export) and gathered in ``shared.contracts.events``, the one import
path the services and subscribers use.
"""

from __future__ import annotations

from typing import Any, ClassVar, get_args

from pydantic import BaseModel, ConfigDict, Field

#: JSON Schema keyword marking a field whose value is personal data (docs/events, docs/asyncapi)
PERSONAL_DATA = "x-personal-data"


def personal(default: object = ..., *, description: str | None = None, **kwargs: object) -> Any:
    """A pydantic Field marked as personal data: a subscriber must erase it on LearnerErasureRequested."""
    return Field(default, description=description, json_schema_extra={PERSONAL_DATA: True}, **kwargs)  # type: ignore[call-overload]


def personal_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of the fields marked personal in ``model`` and the models it nests."""
    found = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get(PERSONAL_DATA):
            found.append(prefix + name)
        for nested in _models_in(info.annotation):
            found += personal_fields(nested, f"{prefix}{name}.")
    return found


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation names (``list[X]``, ``X | None``, ``dict[str, X]``…)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


class Event(BaseModel):
    """Base of every event: immutable, tolerant of unknown fields when read."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    source_service: ClassVar[str]
    topic: ClassVar[str]
    subject_field: ClassVar[str]
    #: dotted paths of the fields holding personal data (empty: the event carries none)
    personal_data: ClassVar[tuple[str, ...]]

    def subject(self) -> str:
        """The aggregate id: Kafka key and ``ce_subject``."""
        return str(getattr(self, self.subject_field))


def routed(service: str, topic: str, name: str, subject: str, version: int = 1):
    """Class decorator filling the routing metadata of an event type."""

    def apply(cls: type[Event]) -> type[Event]:
        cls.event_type = f"certibus.{service}.{name}.v{version}"
        cls.source_service = service
        cls.topic = topic
        cls.subject_field = subject
        cls.personal_data = tuple(personal_fields(cls))
        return cls

    return apply
