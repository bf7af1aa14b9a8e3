"""The Phase 3 card's steps from what the services answer (services/console/checklist.py)."""

from __future__ import annotations

import datetime as dt

from services.console.checklist import DONE, IN_PROGRESS, LATE, TODO, phase3_steps

CHECKLIST = {
    "calendar": {
        "pix_certif_opening": "2025-10-06",
        "window": {"start": "2025-11-03", "end": "2026-03-06"},
    }
}


def session(day: str, *, convoked=False, started=False, finalised=False, status="scheduled") -> dict:
    return {
        "status": status,
        "date": day,
        "documents": [{"kind": "session_bundle"}] if convoked else [],
        "started": started,
        "finalised_at": "2025-11-14T10:00:00Z" if finalised else None,
    }


def statuses(sessions, exports=None, today=dt.date(2025, 11, 1)) -> list[str]:
    return [s.status for s in phase3_steps(CHECKLIST, sessions, exports or {"files": []}, today)]


def test_a_school_with_no_session_has_everything_to_do():
    steps = phase3_steps(CHECKLIST, [], {"files": []}, dt.date(2025, 10, 1))
    assert [s.status for s in steps] == [TODO] * 5
    assert steps[0].due == dt.date(2025, 10, 6) and steps[4].due == dt.date(2026, 3, 6)


def test_steps_follow_the_sessions_lives():
    sessions = [
        session("2025-11-13", convoked=True, started=True, finalised=True),
        session("2025-11-20", convoked=True, started=True),
        session("2025-12-01"),
        session("2025-12-02", status="cancelled"),  # a cancelled session counts for nothing
    ]
    today = dt.date(2025, 11, 21)
    steps = phase3_steps(CHECKLIST, sessions, {"files": []}, today)
    assert [s.status for s in steps] == [DONE, IN_PROGRESS, IN_PROGRESS, IN_PROGRESS, TODO]
    assert steps[1].detail == "2 session(s) convoquée(s) sur 3" and steps[1].due == dt.date(2025, 12, 1)
    assert steps[3].due == dt.date(2025, 11, 22)  # the 20/11 session: finalised within 2 days


def test_a_finalisation_past_its_two_days_is_late_and_the_livret_file_done():
    sessions = [session("2025-11-13", convoked=True, started=True)]
    exports = {"files": [{"kind": "livret", "produced_at": "2026-03-28T11:00:00+00:00", "items": 2}]}
    assert statuses(sessions, exports, today=dt.date(2025, 11, 16)) == [DONE, DONE, DONE, LATE, DONE]


def test_convocations_not_sent_by_the_session_day_are_late():
    assert statuses([session("2025-11-13")], today=dt.date(2025, 11, 14))[1] == LATE
