"""CloudEvents 1.0 in Kafka binary mode: the envelope every certibus event travels in.

The attributes live in Kafka headers (``ce_*``), the value is the JSON of the event model and the
Kafka key is the aggregate id (the CloudEvents ``subject``), so ordering holds per aggregate.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

REQUIRED_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject")


class EnvelopeError(ValueError):
    """A Kafka record does not carry a valid CloudEvents binary-mode envelope."""


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version and variant bits, 74 random bits.

    Time-ordered ids keep outbox and inbox indexes append-mostly and let an operator read the
    creation time off an event id.
    """
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


@dataclass(frozen=True, slots=True)
class Envelope:
    """The CloudEvents attributes of one event."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    specversion: str = SPEC_VERSION
    datacontenttype: str = CONTENT_TYPE

    @classmethod
    def new(cls, *, source: str, type: str, subject: str, time: datetime | None = None) -> Envelope:
        return cls(
            id=str(uuid7()),
            source=source,
            type=type,
            subject=subject,
            time=time or datetime.now(UTC),
        )

    def to_headers(self) -> dict[str, str]:
        return {
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_specversion": self.specversion,
            "ce_time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "ce_subject": self.subject,
            "content-type": self.datacontenttype,
        }

    @classmethod
    def from_headers(cls, headers: dict[str, str | bytes] | list[tuple[str, bytes]]) -> Envelope:
        """Parse Kafka headers (as aiokafka gives them, or as a dict); EnvelopeError names what is wrong."""
        items = headers.items() if isinstance(headers, dict) else headers
        try:
            values = {k: v.decode() if isinstance(v, bytes) else v for k, v in items}
        except UnicodeDecodeError as exc:
            raise EnvelopeError(f"a header is not UTF-8: {exc.reason}") from exc
        missing = [name for name in REQUIRED_HEADERS if not values.get(name)]
        if missing:
            raise EnvelopeError(f"missing CloudEvents header(s): {', '.join(missing)}")
        if values["ce_specversion"] != SPEC_VERSION:
            raise EnvelopeError(f"unsupported ce_specversion {values['ce_specversion']!r}")
        content_type = values.get("content-type", CONTENT_TYPE)
        if content_type != CONTENT_TYPE:
            raise EnvelopeError(f"unsupported content-type {content_type!r}")
        try:
            uuid.UUID(values["ce_id"])
        except ValueError as exc:
            raise EnvelopeError(f"ce_id is not a UUID: {values['ce_id']!r}") from exc
        try:
            when = datetime.fromisoformat(values["ce_time"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise EnvelopeError(f"ce_time is not RFC 3339: {values['ce_time']!r}") from exc
        return cls(
            id=values["ce_id"],
            source=values["ce_source"],
            type=values["ce_type"],
            subject=values["ce_subject"],
            time=when,
        )
