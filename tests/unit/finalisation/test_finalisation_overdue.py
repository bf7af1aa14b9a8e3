from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.finalisation.domain.overdue import (
    SCHOOL_TIMEZONE,
    finalisation_due_at,
    is_finalisation_overdue,
)

MONDAY = date(2025, 3, 10)


def test_due_two_days_after_the_session_start_by_default():
    assert finalisation_due_at(MONDAY, time(9, 0)) == datetime(2025, 3, 12, 9, 0, tzinfo=SCHOOL_TIMEZONE)


def test_due_at_midnight_when_the_time_is_unknown_and_days_configurable():
    assert finalisation_due_at(MONDAY, days=5) == datetime(2025, 3, 15, 0, 0, tzinfo=SCHOOL_TIMEZONE)


def test_due_on_the_local_wall_clock_across_daylight_saving():
    due = finalisation_due_at(date(2025, 3, 29), time(9, 0))  # clocks go forward on 30 March
    assert due.utcoffset() == timedelta(hours=2)
    assert due.astimezone(UTC) == datetime(2025, 3, 31, 7, 0, tzinfo=UTC)


def test_overdue_predicate():
    due = finalisation_due_at(MONDAY, time(9, 0))
    kwargs = {"session_time": time(9, 0), "finalised_at": None}
    assert not is_finalisation_overdue(MONDAY, due - timedelta(seconds=1), **kwargs)
    assert is_finalisation_overdue(MONDAY, due, **kwargs)
    assert not is_finalisation_overdue(
        MONDAY, due + timedelta(days=9), session_time=time(9, 0), finalised_at=due
    )
    assert not is_finalisation_overdue(MONDAY, due, session_time=time(9, 0), finalised_at=None, days=3)


def test_naive_now_and_negative_days_refused():
    with pytest.raises(ValueError):
        is_finalisation_overdue(MONDAY, datetime(2025, 3, 20), finalised_at=None)
    with pytest.raises(ValueError):
        finalisation_due_at(MONDAY, days=-1)
