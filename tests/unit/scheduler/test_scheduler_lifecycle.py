"""A session's lifecycle, candidates' outcomes and corrections, the catch-up track (domain/lifecycle.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.scheduler.domain.calendar import CertificationCalendar, SchoolLevel
from services.scheduler.domain.enrolment import Candidate
from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.lifecycle import (
    Lifecycle,
    LifecycleDates,
    Outcome,
    catch_up_track,
    clean_adapted_conditions,
    correct_candidate,
    ensure_not_finalised,
    outcome_of,
)

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CANDIDATE = Candidate("lrn-1", 12, "Martin", "Zoé", date(2009, 5, 1), "TG1")


def test_the_status_is_the_furthest_step_dated_whatever_came_first() -> None:
    assert LifecycleDates().status() is Lifecycle.PLANNED
    assert LifecycleDates(convoked_at=AT).status() is Lifecycle.CONVOKED
    assert LifecycleDates(started_at=AT).status() is Lifecycle.STARTED  # started without convocations
    assert LifecycleDates(convoked_at=AT, finalised_at=AT).status() is Lifecycle.FINALISED
    assert LifecycleDates(results_received_at=AT).status() is Lifecycle.RESULTS_RECEIVED
    assert LifecycleDates(finalised_at=AT, exported_at=AT).status() is Lifecycle.EXPORTED
    assert LifecycleDates(exported_at=AT).status(cancelled=True) is Lifecycle.CANCELLED


@pytest.mark.parametrize(
    ("present", "abort_reason", "outcome", "releases"),
    [
        (False, None, Outcome.ABSENT, True),
        (True, "technical", Outcome.ABORTED, True),
        (True, "candidate", Outcome.ABORTED, True),
        (True, None, Outcome.COMPLETED, False),
    ],
)
def test_absent_and_aborted_candidates_are_released(present, abort_reason, outcome, releases) -> None:
    assert outcome_of(present=present, abort_reason=abort_reason) is outcome
    assert outcome.releases is releases


def test_candidates_change_until_finalisation_only() -> None:
    ensure_not_finalised(12, None, "inscription")
    with pytest.raises(DomainError) as refused:
        ensure_not_finalised(12, AT, "inscription")
    assert refused.value.code == "session.finalised" and "12" in refused.value.message


def test_adapted_conditions_are_tidied_and_bounded() -> None:
    assert clean_adapted_conditions("  tiers   temps,\n  loupe ") == "tiers temps, loupe"
    assert clean_adapted_conditions("   ") is None and clean_adapted_conditions(None) is None
    assert clean_adapted_conditions("x" * 500) == "x" * 500
    with pytest.raises(DomainError) as refused:
        clean_adapted_conditions("x" * 501)
    assert refused.value.code == "candidate.invalid_adapted_conditions"


def test_a_correction_names_only_what_changed() -> None:
    same, none = correct_candidate(CANDIDATE, extra_time_percentage=0)
    assert (same, none) == (CANDIDATE, [])
    changed, fields = correct_candidate(
        CANDIDATE, extra_time_percentage=33, adapted_conditions="loupe", set_adapted_conditions=True
    )
    assert fields == ["extra_time_percentage", "adapted_conditions"]
    assert (changed.extra_time_percentage, changed.adapted_conditions) == (33, "loupe")
    cleared, fields = correct_candidate(changed, adapted_conditions=None, set_adapted_conditions=True)
    assert fields == ["adapted_conditions"] and cleared.adapted_conditions is None
    kept, fields = correct_candidate(changed, extra_time_percentage=33)
    assert fields == [] and kept.adapted_conditions == "loupe"  # left out: unchanged
    with pytest.raises(DomainError) as refused:
        correct_candidate(CANDIDATE, extra_time_percentage=1000)
    assert refused.value.code == "candidate.invalid_extra_time"


def test_the_catch_up_track_plans_in_the_catch_up_week() -> None:
    calendar = CertificationCalendar.load()
    track = catch_up_track(calendar.for_level("2025-2026", SchoolLevel.LYCEE))
    assert (track.window.start, track.window.end) == (date(2026, 3, 9), date(2026, 3, 13))
    assert track.catch_up is None and track.allows(date(2026, 3, 10)) and not track.allows(date(2026, 3, 6))
    with pytest.raises(DomainError) as refused:
        catch_up_track(calendar.for_level("2024-2025", SchoolLevel.LYCEE))
    assert refused.value.code == "plan.no_catch_up_week"
