"""A burst of the same connection error becomes one line per cause every few seconds, with a count."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from shared.logging import RATE_LIMIT_SECONDS, RepeatedErrorFilter, configure_logging


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def aiokafka_record(node: int = 1, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(
        "aiokafka.conn",
        level,
        __file__,
        1,
        "Unable connect to node with id %s: %s",
        (node, "[Errno 111] Connect call failed ('127.0.0.1', 9092)"),
        None,
    )


def test_a_burst_of_one_cause_lets_one_line_through_then_reports_how_many_were_held_back():
    clock = FakeClock()
    limiter = RepeatedErrorFilter(interval=5.0, clock=clock)
    passed = []
    for i in range(1000):  # 200 a second for 5 s, as during a broker outage
        clock.now = 1000.0 + i * 0.005
        record = aiokafka_record()
        if limiter.filter(record):
            passed.append(record)
    assert len(passed) == 1
    clock.now = 1005.0
    after = aiokafka_record()
    assert limiter.filter(after)
    assert "999 similar line(s) suppressed" in after.getMessage()
    assert after.getMessage().startswith("Unable connect to node with id 1")


def test_each_cause_has_its_own_budget_and_info_lines_are_never_held_back():
    clock = FakeClock()
    limiter = RepeatedErrorFilter(interval=5.0, clock=clock)
    other_cause = logging.LogRecord(
        "aiokafka.cluster", logging.ERROR, __file__, 1, "Unable to update metadata from %s", ([1],), None
    )
    assert limiter.filter(aiokafka_record())
    assert not limiter.filter(aiokafka_record())
    assert limiter.filter(other_cause)  # a new kind of failure shows at once
    assert all(limiter.filter(aiokafka_record(level=logging.INFO)) for _ in range(10))
    mine = logging.LogRecord("services.scheduler", logging.ERROR, __file__, 1, "a real bug %s", (1,), None)
    assert all(limiter.filter(mine) for _ in range(10))  # other loggers are not limited


@pytest.fixture
def captured_logs():
    """configure_logging's real handler, writing to a buffer instead of stdout."""
    configure_logging("test", "INFO", "json")
    handler = logging.getLogger().handlers[0]
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield buffer
    structlog.reset_defaults()


def test_configured_logging_rate_limits_aiokafka_and_the_relays_retries(captured_logs):
    for _ in range(500):
        logging.getLogger("aiokafka.conn").error("Unable connect to node with id %s: %s", 1, "refused")
        structlog.get_logger("shared.outbox").error("outbox relay failed; restarting", schema="s")
        structlog.get_logger("shared.consumer").warning("database unavailable; the partition waits")
        structlog.get_logger("shared.consumer").error("event dead-lettered")
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    events = [line["event"] for line in lines]
    assert events.count("Unable connect to node with id 1: refused") == 1
    assert events.count("outbox relay failed; restarting") == 1
    assert events.count("database unavailable; the partition waits") == 1
    assert events.count("event dead-lettered") == 500  # one per record: never held back
    assert RATE_LIMIT_SECONDS >= 1


def test_the_line_after_the_quiet_spell_of_a_structlog_cause_carries_the_count():
    clock = FakeClock()
    limiter = RepeatedErrorFilter(interval=5.0, clock=clock)

    def relay_failure() -> logging.LogRecord:
        record = logging.LogRecord("shared.outbox", logging.ERROR, __file__, 1, None, None, None)
        record.msg = {"event": "outbox relay failed; restarting", "schema": "s"}
        return record

    assert limiter.filter(relay_failure())
    for _ in range(42):
        assert not limiter.filter(relay_failure())
    clock.now += 6
    reported = relay_failure()
    assert limiter.filter(reported)
    assert reported.msg["suppressed"] == 42
