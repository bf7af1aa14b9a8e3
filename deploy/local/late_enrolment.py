"""A student forgotten at enrolment, added on the day after the room's first start (issue 16 item 3).

Pix lets SCO centres enrol until the session is finalised; certibus too. In each school's first
session the driver enrols, right after the first test started, one student no session holds (the
first by INE among those who would come and complete their test: a forgotten student is not
absent), with the reason a non-certifiable student needs; finalisation's room seats them from
CandidatesEnrolled and they sit like the others. A room that cannot seat one more (409) keeps its
candidates. Deterministic for a seed: the student is chosen from the roster and the seed's draws.
"""

from __future__ import annotations

from typing import Any

from deploy.local.draws import candidate_day
from deploy.local.retrying import SAFE
from deploy.local.schools import School
from deploy.local.steps import Run

#: the reason shown on the candidate (and how a resumed run sees it was done)
LATE_REASON = "oublié(e) à l'inscription : ajouté(e) le jour de la session, après le premier départ"


async def add_forgotten_student(
    run: Run, school: School, session: dict[str, Any], seed: int, headers: dict[str, str]
) -> dict[str, Any] | None:
    """Enrol the forgotten student and wait for the room to seat them; their candidate, or None."""
    if any(c.get("override_reason") == LATE_REASON for c in session["candidates"]):
        return None  # a resumed run: added already, and in the session's candidates
    held = {c["learner_id"] for s in school.sessions for c in s["candidates"]}
    learners = (await run.call("eligibility", "GET", f"/schools/{school.uai}/learners")).json()["learners"]
    left = sorted(
        (
            lrn
            for lrn in learners
            if lrn["learner_id"] not in held and candidate_day(seed, lrn) == (False, False)
        ),
        key=lambda lrn: lrn["ine"],
    )
    if not left:
        return None
    learner_id = left[0]["learner_id"]
    sid = session["session_id"]
    reply = await run.call(
        "scheduler",
        "POST",
        f"/sessions/{sid}/enrolments",
        expect=(201, 409),
        resend=SAFE,  # enrolling them again finds them already enrolled
        json={"learner_ids": [learner_id], "overrides": {learner_id: LATE_REASON}},
    )
    if reply.status_code == 409 or not reply.json()["enrolled"]:
        run.log(
            f"  {school.uai}: session {session['session_number']} could not seat a late student: {reply.text}"
        )
        return None
    [candidate] = reply.json()["enrolled"]

    async def seated() -> bool:
        room = await run.call(
            "finalisation", "GET", f"/invigilator/sessions/{sid}", public=True, headers=headers
        )
        return any(seat["candidate_id"] == candidate["candidate_id"] for seat in room.json()["candidates"])

    await run.wait(
        f"{school.uai}: the room of session {session['session_number']} to seat the late student", seated
    )
    school.summary["late_enrolments"] = school.summary.get("late_enrolments", 0) + 1
    return candidate
