"""The finalisation phase of a school's year: a session's day in the invigilator space, then its finalisation."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

from deploy.local.draws import candidate_day, counts_as_started
from deploy.local.http_client import Answer
from deploy.local.retrying import SAFE, Resend, error_code
from deploy.local.schools import School

#: a step taken in a session's room, given the invigilator's headers (its token)
RoomHook = Callable[[dict[str, str]], Awaitable[Any]]


def _kit_number(session: dict[str, Any]) -> int:
    """The number the kit prints and the invigilator types: Pix Certif's once recorded."""
    return session.get("pix_session_number") or session["session_number"]


class SupervisionSteps:
    """``Run``'s steps in the invigilator space (mixed into ``Run``, deploy/local/steps.py: ``self.call``, ``self.urls``… are its)."""

    async def supervise(
        self,
        school: School,
        session: dict[str, Any],
        seed: int,
        catch_up: bool = False,
        late: RoomHook | None = None,
        before_finalising: RoomHook | None = None,
    ) -> int:
        """The day of one session in the invigilator space, then its finalisation; candidates seen.

        Absences, incidents and aborts are drawn from the seed, the INE and the room (deploy/local/
        draws.py): one seed, the same day whatever the interleaving (issue 11). In the catch-up week
        everyone comes; ``summary["started"]`` counts learners with a livret line. ``late`` (given
        the room's token after its first start) may enrol a forgotten student, ``before_finalising``
        reads the room last. Resumable: a step is taken only if the room does not show it done."""
        login = await self.wait(
            f"session {session['session_number']} to reach the invigilator space",
            lambda: self._try_login(session),
        )
        room_rng = random.Random(f"{seed}:{school.uai}:{session['date']}:{session['time']}:{session['room']}")
        if login.get("finalised"):  # an earlier (interrupted) run did this day already
            counted = [c for c in session["candidates"] if counts_as_started(seed, c, catch_up)]
            school.summary["started"] = school.summary.get("started", 0) + len(counted)
            return len(session["candidates"])
        headers = {"Authorization": f"Bearer {login['token']}"}
        sid = session["session_id"]
        base = f"/invigilator/sessions/{sid}/candidates"
        room = (
            await self.call(
                "finalisation", "GET", f"/invigilator/sessions/{sid}", public=True, headers=headers
            )
        ).json()
        states = {seat["candidate_id"]: seat["test_state"] for seat in room["candidates"]}
        with_incident = {i["candidate_id"] for i in room["incidents"]}
        reports = []
        for index, candidate in enumerate(session["candidates"]):
            cid = candidate["candidate_id"]
            absent, aborted = (False, False) if catch_up else candidate_day(seed, candidate)
            if absent:
                reports.append({"candidate_id": cid, "present": False})
                continue
            running = states.get(cid, "not_started") in ("not_started", "started")
            if states.get(cid, "not_started") == "not_started":
                # confirming a presence again is a no-op; a start again is refused as already started
                await self.call(
                    "finalisation",
                    "POST",
                    f"{base}/{cid}/presence",
                    public=True,
                    headers=headers,
                    resend=SAFE,
                )
                await self.call(
                    "finalisation",
                    "POST",
                    f"{base}/{cid}/start",
                    public=True,
                    headers=headers,
                    resend=Resend(safe=True, done_codes=("candidate.already_started",)),
                )
            if counts_as_started(seed, candidate, catch_up):  # one event loop: no race
                school.summary["started"] = school.summary.get("started", 0) + 1
            if late is not None:  # once, right after the room's first start: the loop reaches them
                extra, late = await late(headers), None
                if extra is not None:
                    session["candidates"].append(extra)
            if index == 0 and room_rng.random() < 0.5 and cid not in with_incident:
                await self.call(
                    "finalisation",
                    "POST",
                    f"/invigilator/sessions/{sid}/incidents",
                    public=True,
                    headers=headers,
                    resend=Resend(applied=self._incident_recorded(sid, cid, headers)),
                    json={
                        "candidate_id": cid,
                        "code": "C7",
                        "description": "Connexion perdue 5 minutes, reprise autorisée",
                    },
                )
                if running:  # authorising a resume again changes nothing (one more ResumeAuthorised)
                    await self.call(
                        "finalisation",
                        "POST",
                        f"{base}/{cid}/resume",
                        public=True,
                        headers=headers,
                        resend=SAFE,
                    )
            if aborted:
                if running:
                    await self.call(  # ending a test already over is a no-op
                        "finalisation", "POST", f"{base}/{cid}/end", public=True, headers=headers, resend=SAFE
                    )
                reports.append({"candidate_id": cid, "present": True, "abort_reason": "technical"})
                continue
            if running:
                await self.call(  # completing again is refused: the test is no longer in progress
                    "finalisation",
                    "POST",
                    f"{base}/{cid}/complete",
                    public=True,
                    headers=headers,
                    resend=Resend(safe=True, done_codes=("candidate.test_not_in_progress",)),
                )
            reports.append({"candidate_id": cid, "present": True})
        if before_finalising is not None:
            await before_finalising(headers)
        if any(r["present"] for r in reports):
            await self.expect_session_locked(session)
        await self.call(
            "finalisation",
            "PUT",
            f"/sessions/{session['session_id']}/finalisation",
            resend=Resend(safe=True, done_codes=("session.finalised",)),  # a second one is refused
            json={
                "examiner_global_comment": None,
                "has_incident": False,
                "has_joining_issue": False,
                "candidate_reports": reports,
            },
        )
        return len(reports)

    async def expect_session_locked(self, session: dict[str, Any]) -> None:
        """A test started (SessionStarted): the scheduler must refuse to move the session, before
        any finalisation."""
        path = f"/sessions/{session['session_id']}"

        async def started() -> bool:
            return (await self.call("scheduler", "GET", path)).json()["started"]

        await self.wait(f"the scheduler to learn that session {session['session_number']} started", started)
        refused = await self.call(  # a refused move changes nothing: safe to send again
            "scheduler", "PATCH", path, expect=(409,), resend=SAFE, json={"time": session["time"]}
        )
        if refused.json()["error"]["code"] != "session.started":
            raise RuntimeError(f"session {session['session_number']}: unexpected refusal {refused.text}")

    def _incident_recorded(
        self, session_id: str, candidate_id: str, headers: dict[str, str]
    ) -> Callable[[], Awaitable[Answer | None]]:
        """Reads back whether the room already holds the driver's incident for this candidate (each
        POST records one more: resent only if it is not there)."""

        async def recorded() -> Answer | None:
            room = await self.call(
                "finalisation", "GET", f"/invigilator/sessions/{session_id}", public=True, headers=headers
            )
            found = any(i["candidate_id"] == candidate_id for i in room.json()["incidents"])
            return room if found else None

        return recorded

    async def _try_login(self, session: dict[str, Any]) -> dict[str, Any] | None:
        """The invigilator's token; ``{"finalised": True}`` once the session is finalised; None
        while the session has not reached the invigilator space."""
        reply = await self.public["finalisation"].post(
            "/invigilator/login",
            json={"session_number": _kit_number(session), "password": session["invigilator_password"]},
        )
        if reply.status_code != 200:
            return {"finalised": True} if error_code(reply) == "session.finalised" else None
        return reply.json()
