"""How many invigilator login attempts a session number or a client address gets: a fixed window.

A session password is short (5 symbols from 47, pix-domain §4), so guessing it online must be slow:
each bucket (the session number tried, the address trying) gets ``limit`` attempts per one-minute
window, then ``auth.too_many_attempts`` (429, ``Retry-After`` the seconds left in the window).
Only failed attempts stay counted — a school whose fifteen invigilators log in at 08:00 from one
address is not refused. The counters live in the store (shared by every replica); this module
only computes buckets, windows and the refusal.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from shared.errors import DomainError

LOGIN_WINDOW = timedelta(minutes=1)
TOO_MANY_ATTEMPTS = "auth.too_many_attempts"


class TooManyAttempts(DomainError):
    """The window's attempts are spent; ``retry_after_seconds`` until the next window opens."""

    def __init__(self, retry_after_seconds: int, buckets: list[str]) -> None:
        super().__init__(
            TOO_MANY_ATTEMPTS,
            f"too many login attempts: try again in {retry_after_seconds} s",
            retry_after_seconds=retry_after_seconds,
        )
        self.retry_after_seconds = retry_after_seconds
        self.buckets = buckets


def login_buckets(session_number: int, client: str) -> list[str]:
    """The counters one attempt charges, sorted (two attempts lock their rows in the same order)."""
    return sorted([f"session:{session_number}", f"client:{client or 'unknown'}"])


def window_start(now: datetime) -> datetime:
    """The start of the one-minute window ``now`` falls in (UTC)."""
    return now.astimezone(UTC).replace(second=0, microsecond=0)


def retry_after_seconds(now: datetime) -> int:
    """Whole seconds (≥ 1) until the window after ``now``'s opens."""
    left = (window_start(now) + LOGIN_WINDOW - now.astimezone(UTC)).total_seconds()
    return max(1, math.ceil(left))
