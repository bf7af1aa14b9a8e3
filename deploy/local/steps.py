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
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from deploy.local.exports import ExportSteps
from deploy.local.generator import (
    campaign_csv_bytes,
    generate_orga_certificability,
    generate_participations,
    learner_csv_bytes,
    orga_certificability_csv_bytes,
)
from deploy.local.http_client import Answer, ServiceClient
from deploy.local.retrying import NEVER, SAFE, TRANSIENT_ERRORS, Resend, send
from deploy.local.schools import School, school_body
from deploy.local.signin import SignIn
from deploy.local.supervision import SupervisionSteps

T = TypeVar("T")


class Run(SupervisionSteps, ExportSteps):
    """HTTP clients of one run: the school APIs' and the public ones (invigilator space, LSU/LSL API,
    which have their own credentials). The school APIs are called with each school's own access
    token when ``signin`` is given (the provider: deploy/local/signin.py), else with the trusted
    gateway's ``api_token``. Open it with ``async with``. The finalisation and export steps are in
    deploy/local/supervision.py and deploy/local/exports.py, mixed in."""

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
        if school.orga_certificability:
            # Pix Orga's nightly certificability, in the file the README documents (Orga has no export)
            rows = generate_orga_certificability(seed, school.learners, certifiable_rate=0.85)
            path, name = "orga-certificability", "certificabilite_pix_orga.csv"
            data = orga_certificability_csv_bytes(rows)
        else:
            participations = generate_participations(
                seed, school.learners, share_rate=0.9, certifiable_rate=0.85
            )
            path, name = "campaign-exports", "collecte_profils.csv"
            data = campaign_csv_bytes(participations, organisation=school.name)
        report = (
            await self.call(
                "eligibility",
                "POST",
                f"/schools/{school.uai}/{path}",
                resend=SAFE,  # the same file again replaces no assessment by an older one
                files={"file": (name, data, "text/csv")},
            )
        ).json()
        summary = (await self.call("eligibility", "GET", f"/schools/{school.uai}/certifiability")).json()
        kind = "orga_certificability" if school.orga_certificability else "campaign"
        school.summary.update({"roster": reply, kind: report, "certifiability": summary})
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
                resend=SAFE,  # a resend under the same key gets the first proposal back
                headers=idempotency_key(),
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


def idempotency_key() -> dict[str, str]:
    """The header that makes one command's resends one command (a fresh key per command)."""
    return {"Idempotency-Key": str(uuid.uuid4())}


def _count(summary: dict[str, Any], key: str) -> int:
    counts = summary.get("counts", summary)
    return int(counts.get(key, 0))
