"""structlog configured for JSON lines, with context (event id, type, subject) bound per message.

During a broker or database outage the same failure is logged hundreds of times a second (aiokafka
alone wrote ≈ 200 ERROR lines a second per service): ``RepeatedErrorFilter`` lets one line per
cause through every few seconds and puts the number it held back on the next one.

Logs leave the académie's control (collectors, tickets), and certibus holds minors' data:
``redact_personal_data`` drops names, birth dates, INE and e-mail addresses from every line at
INFO and above, by key name and by value pattern, whatever key the call site used.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import structlog

#: loggers whose warnings and errors are rate-limited by cause (a name and its children)
RATE_LIMITED_LOGGERS = ("aiokafka", "faststream", "shared.outbox", "shared.dead_letters")
#: warnings of other loggers that repeat once per retry while a dependency is down
RATE_LIMITED_EVENTS = frozenset(
    {
        "database unavailable; the partition waits",
        "offset commit failed; will retry",
        "outbox pruning failed; will retry",
    }
)
#: one line per cause this often (seconds)
RATE_LIMIT_SECONDS = 5.0

REDACTED = "[redacted]"
#: keys whose value is personal data (compared lower-cased, without "_" and "-")
PERSONAL_KEYS = frozenset(
    {
        "firstname", "middlename", "thirdname", "lastname", "preferredlastname", "name", "names",
        "surname", "birthname", "fullname", "prenom", "nom", "birthdate", "dateofbirth",
        "datenaissance", "birthcity", "birthplace", "ine", "nationalstudentid", "email", "mail",
        "emailaddress", "learner", "student", "candidatename",
    }
)  # fmt: skip
#: INE: 10 digits + a letter, or 9 digits + 2 letters (schools-lsu-calendar.md)
INE = re.compile(r"(?<![0-9A-Za-z])(?:\d{10}[A-Za-z]|\d{9}[A-Za-z]{2})(?![0-9A-Za-z])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ISO_DATE = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")
#: keys structlog itself adds, never personal
_STRUCTURAL = frozenset({"timestamp", "level", "logger", "service", "event_id", "exc_info"})


def _personal(key: object) -> bool:
    return str(key).lower().replace("_", "").replace("-", "") in PERSONAL_KEYS


def _mask(value: Any, dates: bool) -> Any:
    if isinstance(value, str):
        value = EMAIL.sub("[email]", INE.sub("[ine]", value))
        return ISO_DATE.sub("[date]", value) if dates else value
    if isinstance(value, dict):
        return {k: REDACTED if _personal(k) else _mask(v, dates) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_mask(v, dates) for v in value]
    return value


def redact_personal_data(_logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: at INFO and above, personal values out of every key (nested too).

    A key naming personal data (``first_name``, ``INE``, ``birthdate``, ``email``…) loses its value;
    every other string is searched for INE and e-mail addresses, and for ISO dates when the line
    also carries a name key (a birth date next to a name). DEBUG lines pass as they are.
    """
    level = str(event_dict.get("level", method_name)).lower()
    if logging.getLevelName(level.upper()) == logging.DEBUG:
        return event_dict
    dates = any(_personal(k) for k in event_dict)
    for key, value in list(event_dict.items()):
        if key in _STRUCTURAL:
            continue
        event_dict[key] = REDACTED if _personal(key) else _mask(value, dates)
    return event_dict


class RepeatedErrorFilter(logging.Filter):
    """One WARNING-or-worse line per cause every ``interval`` seconds, with a count of the others.

    A cause is the logger and the message template (aiokafka's ``"Unable connect to node with id
    %s: %s"``, a structlog event's text), so a new kind of failure always shows at once. The line
    let through after a quiet spell carries ``suppressed``: how many of that cause were held back.
    Records below WARNING, and those of other loggers, pass untouched.
    """

    def __init__(
        self,
        interval: float = RATE_LIMIT_SECONDS,
        loggers: tuple[str, ...] = RATE_LIMITED_LOGGERS,
        events: frozenset[str] = RATE_LIMITED_EVENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval, self.loggers, self.events, self.clock = interval, loggers, events, clock
        #: cause → (when its last line was let through, lines held back since)
        self._causes: dict[tuple[str, str], tuple[float, int]] = {}

    def _limited(self, record: logging.LogRecord, template: str) -> bool:
        name = record.name
        return any(name == p or name.startswith(p + ".") for p in self.loggers) or template in self.events

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        event: dict[str, Any] | None = record.msg if isinstance(record.msg, dict) else None
        template = str(event.get("event", "")) if event is not None else str(record.msg)
        if not self._limited(record, template):
            return True
        cause = (record.name, template)
        now = self.clock()
        last, held_back = self._causes.get(cause, (None, 0))
        if last is not None and now - last < self.interval:
            self._causes[cause] = (last, held_back + 1)
            return False
        self._causes[cause] = (now, 0)
        if held_back and event is not None:
            event["suppressed"] = held_back
        elif held_back:  # a stdlib record (aiokafka): the count goes into its message
            seconds = now - last if last is not None else 0.0
            record.msg = f"{record.getMessage()} [{held_back} similar line(s) suppressed in {seconds:.0f}s]"
            record.args = None
        return True


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """JSON lines on stdout; stdlib logging (aiokafka, uvicorn) goes through the same renderer."""
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared_processors: list = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
        redact_personal_data,
    ]
    renderer = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RepeatedErrorFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
