"""The login window's arithmetic: buckets, window start, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from services.finalisation.domain.login_limits import login_buckets, retry_after_seconds, window_start

T = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)


def test_an_attempt_charges_its_session_number_and_its_address_in_a_stable_order():
    assert login_buckets(4242, "192.0.2.1") == ["client:192.0.2.1", "session:4242"]
    assert login_buckets(4242, "") == ["client:unknown", "session:4242"]


def test_the_window_is_the_minute_in_utc():
    paris = timezone(timedelta(hours=1))
    assert window_start(datetime(2027, 3, 10, 9, 0, 59, 999, tzinfo=paris)) == T
    assert window_start(T + timedelta(seconds=60)) == T + timedelta(minutes=1)


def test_retry_after_is_the_whole_seconds_left_and_never_zero():
    assert retry_after_seconds(T) == 60
    assert retry_after_seconds(T + timedelta(seconds=15)) == 45
    assert retry_after_seconds(T + timedelta(seconds=14, milliseconds=1)) == 46
    assert retry_after_seconds(T + timedelta(seconds=59, milliseconds=999)) == 1
