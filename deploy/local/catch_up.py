"""The catch-up week of one school, through the scheduler's public API (issue 16 item 2).

Once the scheduler shows every session of the school finalised, its absent and aborted candidates
are free again: the school asks for a catch-up plan (``catch_up``: the calendar's catch-up week),
confirms it, convokes and holds those sessions like the others (deploy/local/steps.py), and the
Pix sandbox's results for them reach the class CSVs and the livret. Everyone comes in the catch-up
week, so one seed gives the same catch-up sessions, numbers and results (the planner only sees who
was absent or aborted, drawn from the seed and the INE).
"""

from __future__ import annotations

from typing import Any

from deploy.local.draws import candidate_day
from deploy.local.retrying import SAFE
from deploy.local.schools import School
from deploy.local.steps import Run, idempotency_key

#: what the scheduler shows of a session whose finalisation it has learnt
FINALISED_OR_LATER = ("finalised", "results_received", "exported")


async def catch_up_plan(run: Run, school: School) -> dict[str, Any] | None:
    """Wait for the scheduler to learn every finalisation of the school, then propose its catch-up
    plan; None when no one is left to certify (nobody absent or aborted)."""
    ids = {s["session_id"] for s in school.sessions}

    async def all_finalised() -> bool:
        listed = (await run.call("scheduler", "GET", f"/schools/{school.uai}/sessions")).json()
        return all(s["lifecycle"] in FINALISED_OR_LATER for s in listed if s["session_id"] in ids)

    await run.wait(f"{school.uai}: the scheduler to learn its finalisations", all_finalised)
    plan = (
        await run.call(
            "scheduler",
            "POST",
            f"/schools/{school.uai}/plans",
            resend=SAFE,  # a resend under the same key gets the first proposal back
            headers=idempotency_key(),
            json={"school_year": "2026-2027", "catch_up": True},
        )
    ).json()
    if plan["status"] != "proposed":
        raise RuntimeError(f"{school.uai}: no catch-up plan: {plan['error']}")
    school.summary["catch_up"] = {
        "sessions": len(plan["sessions"]),
        "students": plan["students"],
        "window": plan["window"],
    }
    return plan if plan["sessions"] else None


async def confirmed_catch_up(run: Run, school: School) -> list[str]:
    """The catch-up sessions the school confirmed already (a resumed run), in their numbers' order."""
    return await run.confirmed_sessions(school, catch_up=True)


async def remember_resits(
    run: Run, school: School, session_id: str, seed: int, headers: dict[str, str]
) -> None:
    """When each catch-up test of a learner who had aborted started (read in the room before
    finalising): their livret line must be the catch-up's, a later test, not the first one's."""
    room = await run.call(
        "finalisation", "GET", f"/invigilator/sessions/{session_id}", public=True, headers=headers
    )
    ines = {c["candidate_id"]: c.get("ine") for s in school.sessions for c in s["candidates"]}
    for seat in room.json()["candidates"]:
        ine = ines.get(seat["candidate_id"])
        if ine and seat["started_at"] and candidate_day(seed, {"ine": ine})[1]:
            school.summary.setdefault("resat", {})[ine] = seat["started_at"]
