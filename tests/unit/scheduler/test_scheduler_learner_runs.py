"""The learners consumer's folding of a run: what applying its events one by one would leave, one row
per learner (the SQL that writes the rows is covered on Postgres in
tests/integration/scheduler/test_scheduler_learner_batches.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.scheduler.handlers import latest_snapshots
from shared.consumer import Delivery
from shared.contracts.envelope import Envelope
from shared.contracts.events import LearnerUpdated
from tests.events import learner

T0 = datetime(2025, 9, 8, 8, 0, tzinfo=UTC)


def delivered(event, minutes: int) -> Delivery:
    envelope = Envelope.new(
        source="/certibus/eligibility",
        type=event.event_type,
        subject=event.subject(),
        time=T0 + timedelta(minutes=minutes),
    )
    return Delivery(event, envelope)


def test_one_snapshot_is_written_only_if_it_differs_from_the_row() -> None:
    [row] = latest_snapshots([delivered(learner("0750001a", "a"), 0)])
    assert (row.uai, row.active, row.at, row.changed_in_run) == ("0750001A", True, T0, False)


def test_repeats_keep_the_time_of_the_first_and_a_change_back_is_written() -> None:
    a = learner("0750001A", "a")
    b = a.model_copy(update={"division": "3B"})
    repeated, changed_back = (
        latest_snapshots([delivered(e, m) for m, e in enumerate(run)]) for run in ([a, b, b], [a, b, a])
    )
    assert [(r.division, r.at, r.changed_in_run) for r in repeated] == [
        ("3B", T0 + timedelta(minutes=1), True)
    ]
    assert [(r.division, r.at, r.changed_in_run) for r in changed_back] == [
        ("3A", T0 + timedelta(minutes=2), True)
    ]


def test_an_update_carries_its_active_flag_and_learners_stay_apart() -> None:
    a, b = learner("0750001A", "a"), learner("0750001A", "b")
    left = LearnerUpdated(**a.model_dump(), active=False)
    rows = latest_snapshots([delivered(a, 0), delivered(b, 0), delivered(left, 1), delivered(b, 2)])
    assert [(r.learner_id, r.active, r.at, r.changed_in_run) for r in rows] == [
        (a.learner_id, False, T0 + timedelta(minutes=1), True),
        (b.learner_id, True, T0, False),
    ]
