"""What one school does in the year, step by step, through the services' public HTTP APIs only.

Each ``Run`` method is one school's step (its calls in order); the driver (deploy/local/academie.py)
runs a step for many schools at once. Waiting is polling a public read model: the services are
eventually consistent, and a school's staff would reload the page too.

The driver is a client that survives a service restarting under it (deploy/local/retrying.py): each
command says whether and how it may be resent, and each step skips what the services show done
already, so a run interrupted anywhere continues with ``--resume`` (issue 11).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from deploy.local.draws import candidate_day, counts_as_started
from deploy.local.generator import campaign_csv_bytes, generate_participations, learner_csv_bytes
from deploy.local.http_client import Answer, ServiceClient
from deploy.local.retrying import NEVER, SAFE, TRANSIENT_ERRORS, Resend, error_code, send
from deploy.local.schools import School, school_body
from deploy.local.signin import SignIn

T = TypeVar("T")
#: a step taken in a session's room, given the invigilator's headers (its token)
RoomHook = Callable[[dict[str, str]], Awaitable[Any]]


class Run:
    """HTTP clients of one run: the school APIs' and the public ones (invigilator space, LSU/LSL API,
    which have their own credentials). The school APIs are called with each school's own access
    token when ``signin`` is given (the provider: deploy/local/signin.py), else with the trusted
    gateway's ``api_token``. Open it with ``async with``."""

    def __init__(
        self,
        urls: dict[str, str],
        output: Path,
        log: Callable[[str], None] = print,
        api_token: str | None = None,
        concurrency: int = 32,
        retry_seconds: float = 300,
        signin: SignIn | None = None,
    ) -> None:
        self.urls = urls
        self.output = output
        self.log = log
        self.api_token = api_token
        self.concurrency = concurrency
        self.retry_seconds = retry_seconds
        self.signin = signin
        #: requests sent again after a transient failure (for the run's summary)
        self.retries = 0
        self.http: dict[str, ServiceClient] = {}
        self.public: dict[str, ServiceClient] = {}

    async def __aenter__(self) -> Run:
        if self.signin is not None:
            await self.signin.__aenter__()
        portal = {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}
        signed_in = self.signin.authorization if self.signin is not None else None
        for name, url in self.urls.items():
            self.http[name] = ServiceClient(
                url, headers=portal, connections=self.concurrency * 2, authorization=signed_in
            )
            self.public[name] = ServiceClient(url, connections=self.concurrency * 2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(c.aclose() for c in [*self.http.values(), *self.public.values()]))
        if self.signin is not None:
            await self.signin.__aexit__(*exc)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        expect: tuple[int, ...] = (200, 201),
        public: bool = False,
        resend: Resend | None = None,
        **kwargs: Any,
    ) -> Answer:
        """One request; retried as ``resend`` allows (default: reads and PUTs only) while the
        service restarts, within ``retry_seconds``."""
        reply = await send(
            (self.public if public else self.http)[service],
            self.public[service],
            method,
            path,
            resend or (SAFE if method in ("GET", "HEAD", "PUT") else NEVER),
            self.retry_seconds,
            self._retried,
            **kwargs,
        )
        if reply.status_code not in expect:
            raise RuntimeError(f"{service} {method} {path} → {reply.status_code}: {reply.text[:2000]}")
        return reply

    def _retried(self, line: str) -> None:
        self.retries += 1
        self.log(line)

    async def wait(
        self, what: str, check: Callable[[], Awaitable[T | None]], seconds: float = 300, every: float = 0.3
    ) -> T:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                result = await check()
            except TRANSIENT_ERRORS:
                result = None  # a service restarting: look again, as a reloading page would
            if result:
                return result
            await asyncio.sleep(every)
        raise RuntimeError(f"timed out after {seconds}s waiting for {what}")

    # ---- eligibility ------------------------------------------------------------------------

    async def import_rosters(self, school: School, seed: int) -> None:
        seed = seed * 1000 + int(school.uai[:7]) % 1000
        roster = learner_csv_bytes(school.learners, delimiter=";", bom=True)
        reply = (
            await self.call(
                "eligibility",
                "POST",
                f"/schools/{school.uai}/rosters",
                resend=SAFE,  # an import replaces the school's roster: twice is once
                files={"file": (f"export_eleves_{school.uai}.csv", roster, "text/csv")},
            )
        ).json()
        participations = generate_participations(seed, school.learners, share_rate=0.9, certifiable_rate=0.85)
        campaign = campaign_csv_bytes(participations, organisation=school.name)
        report = (
            await self.call(
                "eligibility",
                "POST",
                f"/schools/{school.uai}/campaign-exports",
                resend=SAFE,  # the same file again replaces no assessment by an older one
                files={"file": ("collecte_profils.csv", campaign, "text/csv")},
            )
        ).json()
        summary = (await self.call("eligibility", "GET", f"/schools/{school.uai}/certifiability")).json()
        school.summary.update(roster=reply, campaign=report, certifiability=summary)
        self.log(
            f"  {school.uai} {school.name}: {len(school.learners)} learners imported;"
            f" certifiability {summary.get('counts', summary)}"
        )

    # ---- scheduler --------------------------------------------------------------------------

    async def plan(self, school: School) -> dict[str, Any]:
        """Set the school up, wait until the scheduler knows its learners, and propose its plan."""
        await self.call("scheduler", "PUT", f"/schools/{school.uai}", json=school_body(school))
        expected = _count(school.summary["certifiability"], "certifiable")
        # a real SIECLE roster holds the whole school: the scheduler takes the certifying classes
        # (3e, terminales, CAP, BTS 2e année) by their MEF code, so the plan names none
        certifying = school.divisions

        async def classes_known() -> bool:
            classes = (await self.call("scheduler", "GET", f"/schools/{school.uai}")).json()["classes"]
            known = {c["division"] for c in classes}
            return known >= set(certifying) and sum(c["certifiable"] for c in classes) >= expected

        await self.wait(
            f"{school.uai}: the scheduler to learn its classes and certifiable learners", classes_known
        )
        plan = (
            await self.call(
                "scheduler",
                "POST",
                f"/schools/{school.uai}/plans",
                # a resend may store a second proposal that is never confirmed (no session, no
                # event): harmless, though an Idempotency-Key would spare it (issue 11 item 2)
                resend=SAFE,
                json={"school_year": "2026-2027"},
            )
        ).json()
        if plan["status"] != "proposed":
            raise RuntimeError(f"{school.uai}: no plan: {plan['error']}")
        planned = {c["division"] for s in plan["sessions"] for c in s["classes"]}
        if not planned <= set(certifying) or plan["warnings"]:
            raise RuntimeError(
                f"{school.uai}: MEF chose {sorted(planned)}, not {certifying}: {plan['notes']}"
            )
        school.summary["plan"] = {"sessions": len(plan["sessions"]), "half_days": len(plan["half_days"])}
        return plan

    async def confirmed_sessions(self, school: School, catch_up: bool = False) -> list[str]:
        """The sessions of the plans the school confirmed already (a resumed run), the first plan's
        or the catch-up week's, in their numbers' order; [] when it has none (or the scheduler does
        not know the school yet)."""
        reply = await self.call("scheduler", "GET", f"/schools/{school.uai}/sessions", expect=(200, 404))
        if reply.status_code == 404:
            return []
        planned = sorted((s for s in reply.json() if s["plan_id"]), key=lambda s: s["session_number"])
        kinds = {
            plan_id: (await self.call("scheduler", "GET", f"/plans/{plan_id}")).json()["catch_up"]
            for plan_id in dict.fromkeys(s["plan_id"] for s in planned)
        }
        return [s["session_id"] for s in planned if kinds[s["plan_id"]] == catch_up]

    async def confirm(self, school: School, plan: dict[str, Any]) -> list[str]:
        """Confirm a proposed plan: its sessions get their numbers (one sequence for the académie)."""
        plan_id = plan["plan_id"]

        async def applied() -> Answer | None:
            """Confirmed by the attempt whose answer was lost: its sessions, in their numbers' order."""
            if (await self.call("scheduler", "GET", f"/plans/{plan_id}")).json()["status"] != "confirmed":
                return None
            sessions = (await self.call("scheduler", "GET", f"/schools/{school.uai}/sessions")).json()
            mine = sorted((s for s in sessions if s["plan_id"] == plan_id), key=lambda s: s["session_number"])
            return Answer.of_json({"session_ids": [s["session_id"] for s in mine]})

        confirmed = await self.call(
            "scheduler", "POST", f"/plans/{plan_id}/confirm", resend=Resend(applied=applied)
        )
        return list(confirmed.json()["session_ids"])

    async def convoke(self, school: School, session_id: str) -> dict[str, Any]:
        """Convocations of one session (unless already issued: a resumed run), its details and its
        document bundle, kept in the output."""

        async def issued() -> Answer | None:
            """Each issue records a bundle and raises ConvocationsIssued: (re)send only if none was."""
            detail = await self.call("scheduler", "GET", f"/sessions/{session_id}")
            return detail if any(d["kind"] == "session_bundle" for d in detail.json()["documents"]) else None

        if await issued() is None:
            await self.call(
                "scheduler", "POST", f"/sessions/{session_id}/convocations", resend=Resend(applied=issued)
            )
        detail = (await self.call("scheduler", "GET", f"/sessions/{session_id}")).json()
        bundle = await self.call("scheduler", "GET", f"/sessions/{session_id}/bundle.zip")
        documents = self.output / "documents" / school.uai
        documents.mkdir(parents=True, exist_ok=True)
        (documents / f"session-{detail['session_number']}.zip").write_bytes(bundle.content)
        return detail

    # ---- finalisation -----------------------------------------------------------------------

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

    # ---- export -----------------------------------------------------------------------------

    async def collect_exports(self, school: School) -> int:
        """Wait for every result in the livret, then fetch it and each class's files; classes fetched."""
        divisions = sorted({c["division"] for s in school.sessions for c in s["candidates"]})
        started = school.summary.get("started", 0)

        # the livret shows instants to the millisecond
        resat = {
            ine: (at := datetime.fromisoformat(text)).replace(microsecond=at.microsecond // 1000 * 1000)
            for ine, text in school.summary.get("resat", {}).items()
        }

        async def livret_complete() -> dict[str, Any] | None:
            """Every candidate who started has a result, published (the sandbox's class CSV comes first),
            and the catch-up's result of who re-sat after aborting (the latest test wins)."""
            reply = await self.http["export"].get(f"/schools/{school.uai}/livret.json")
            if reply.status_code != 200:
                return None
            certifications = reply.json()["data"]["attributes"]["certifications"]
            published = all(c["status"] != "pending" for c in certifications)
            taken = {c["nationalStudentId"]: datetime.fromisoformat(c["date"]) for c in certifications}
            latest = all(ine in taken and taken[ine] >= at for ine, at in resat.items())
            return reply.json() if len(certifications) >= started and published and latest else None

        livret = await self.wait(f"{school.uai}: results to reach the livret", livret_complete, seconds=600)
        target = self.output / "http" / school.uai
        target.mkdir(parents=True, exist_ok=True)
        (target / "livret.json").write_text(
            json.dumps(livret, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        for division in divisions:
            # the export is eventually consistent: a class appears once its roster and results both arrived
            async def class_csv(d: str = division) -> Answer | None:
                reply = await self.http["export"].get(f"/schools/{school.uai}/classes/{d}/results.csv")
                return reply if reply.status_code == 200 else None

            csv = await self.wait(f"{school.uai}: the class results CSV of {division}", class_csv)
            (target / f"resultats_{division}.csv").write_bytes(csv.content)
            pdf = await self.call(
                "export",
                "GET",
                f"/schools/{school.uai}/classes/{division}/attestations.pdf",
                expect=tuple(range(200, 500)),
            )
            if pdf.status_code == 200:
                (target / f"attestations_{division}.pdf").write_bytes(pdf.content)
            readiness = (
                await self.call("export", "GET", f"/schools/{school.uai}/classes/{division}/readiness")
            ).json()
            school.summary.setdefault("readiness", {})[division] = readiness
        certs = livret["data"]["attributes"]["certifications"]
        statuses = {
            s: sum(1 for c in certs if c["status"] == s) for s in ("validated", "rejected", "pending")
        }
        school.summary["livret"] = statuses
        self.log(
            f"  {school.uai}: livret with {len(certs)} certifications {statuses}; {len(divisions)} class CSV(s)"
        )
        return len(divisions)

    async def livret_api(self, uai: str, client_id: str, secret: str) -> int:
        token = (
            await self.call(
                "export",
                "POST",
                "/api/application/token",
                public=True,
                resend=SAFE,  # a second token is as good as the first
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                    "scope": "organizations-certifications-result",
                },
            )
        ).json()["access_token"]
        feed = (
            await self.call(
                "export",
                "GET",
                f"/api/organizations/{uai}/certifications",
                public=True,
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
        return len(feed["data"]["attributes"]["certifications"])

    # ---- the académie view ------------------------------------------------------------------

    async def academie_schools(self) -> list[dict[str, Any]]:
        """Every school of the académie view, page after page."""
        schools: list[dict[str, Any]] = []
        while True:
            page = (
                await self.call(
                    "academie", "GET", "/academie/schools", params={"limit": 1000, "offset": len(schools)}
                )
            ).json()
            schools += page["schools"]
            if not page["schools"] or len(schools) >= page["total"]:
                return schools

    async def academie_view(self, schools: list[School]) -> dict[str, Any]:
        """Once the view shows every school of the run through its whole card (it reads the other
        services' events, a moment behind them): its summary, the run's schools' cards, and the CSV
        of every school, written to ``academie/`` in the output."""
        uais = {school.uai for school in schools}

        async def complete() -> list[dict[str, Any]] | None:
            mine = [s for s in await self.academie_schools() if s["uai"] in uais]
            return mine if len(mine) == len(uais) and all(s["step"] == "done" for s in mine) else None

        mine = await self.wait("the académie view to show every school's card complete", complete)
        summary = (await self.call("academie", "GET", "/academie/summary")).json()
        csv = await self.call("academie", "GET", "/academie/schools.csv")
        target = self.output / "academie"
        target.mkdir(parents=True, exist_ok=True)
        (target / "academie-phase3.csv").write_bytes(csv.content)
        (target / "summary.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        (target / "schools.json").write_text(json.dumps(mine, ensure_ascii=False, indent=1), encoding="utf-8")
        return {"summary": summary, "schools": mine}


def _kit_number(session: dict[str, Any]) -> int:
    """The number the kit prints and the invigilator types: Pix Certif's once recorded."""
    return session.get("pix_session_number") or session["session_number"]


def _count(summary: dict[str, Any], key: str) -> int:
    counts = summary.get("counts", summary)
    return int(counts.get(key, 0))
