"""Overdue finalisation: a session still not finalised N days after it took place.

Results cannot be processed before finalisation, so the académie wants to chase such schools; the
rule is a pure predicate so a periodic job can evaluate it for any `now`.
"""

from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

DEFAULT_OVERDUE_AFTER_DAYS = 2
SCHOOL_TIMEZONE = ZoneInfo("Europe/Paris")


def finalisation_due_at(
    session_date: date,
    session_time: time | None = None,
    *,
    days: int = DEFAULT_OVERDUE_AFTER_DAYS,
    tz: tzinfo = SCHOOL_TIMEZONE,
) -> datetime:
    """When the session becomes overdue: `days` days after its local start (midnight if no time known).

    Computed on the local wall clock, so a daylight-saving change in between does not shift it.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    start = session_time or time(0, 0)
    return datetime.combine(session_date + timedelta(days=days), start, tzinfo=tz)


def is_finalisation_overdue(
    session_date: date,
    now: datetime,
    *,
    finalised_at: datetime | None,
    session_time: time | None = None,
    days: int = DEFAULT_OVERDUE_AFTER_DAYS,
    tz: tzinfo = SCHOOL_TIMEZONE,
) -> bool:
    """True when the session is not finalised and its due datetime has passed (`now` must be aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if finalised_at is not None:
        return False
    return now >= finalisation_due_at(session_date, session_time, days=days, tz=tz)
