"""A whole académie run, end to end, through the services' public HTTP APIs only.

For a few generated schools (valid UAIs and INEs, seeded): roster and profile-collection imports
(eligibility), school set-up, automatic planning and confirmation, convocations (scheduler), the
day itself in the invigilator space and finalisation (finalisation), results from the Pix sandbox,
then the class CSVs, attestation PDFs and LSU/LSL livret files (export), fetched over HTTP too, and
the livret feed through the LSU/LSL API. Everything lands in one output folder.

Used by ``deploy/local/run-academie`` (real processes on the local infrastructure) and by the
end-to-end test (tests/e2e/).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.local.generator import (
    campaign_csv_bytes,
    generate_learners,
    generate_participations,
    learner_csv_bytes,
    random_uai,
)
from deploy.local.stack import StackConfig, start_stack

REPO = Path(__file__).resolve().parents[2]
#: the scheduler's calendar, read as a data file (the driver imports no service code)
CALENDAR_FILE = REPO / "services" / "scheduler" / "domain" / "calendar.json"

#: The reference found no official 2026-2027 calendar. The local run adds a provisional one, in its
#: own copy of the calendar (CALENDAR_FILE), modelled on 2025-2026; the scheduler's own data is not
#: touched. An académie adds the official year to calendar.json when the note de service is out.
PROVISIONAL_YEAR = {
    "2026-2027": {
        "lycee": {
            "window": {"start": "2026-11-02", "end": "2027-03-05"},
            "pix_certif_opening": None,
            "source": "PROVISIONAL for the local run: modelled on 2025-2026, not an official date",
        },
        "college": {
            "window": {"start": "2027-03-15", "end": "2027-06-11"},
            "pix_certif_opening": None,
            "source": "PROVISIONAL for the local run: modelled on 2025-2026, not an official date",
        },
    }
}


@dataclass
class School:
    uai: str
    name: str
    level: str  # "college" | "lycee"
    city: str
    learners: list = field(default_factory=list)
    sessions: list[dict] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def provisional_calendar(path: Path) -> Path:
    data = json.loads(CALENDAR_FILE.read_text(encoding="utf-8"))
    for year, tracks in PROVISIONAL_YEAR.items():
        data["years"].setdefault(year, tracks)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def generate_schools(seed: int, count: int, students: int) -> list[School]:
    """Collèges and lycées with their certifying classes (3e, terminales), seeded."""
    rng = random.Random(seed)
    cities = ["Dijon", "Beaune", "Mâcon", "Nevers", "Auxerre", "Chalon-sur-Saône", "Sens", "Autun"]
    schools = []
    for i in range(count):
        level = "lycee" if i % 3 == 2 else "college"
        city = cities[i % len(cities)]
        patron = ["Jean Moulin", "Marie Curie", "Victor Hugo", "Colette", "Lamartine", "Pasteur"][i % 6]
        name = f"{'Lycée' if level == 'lycee' else 'Collège'} {patron} de {city}"
        # generate_learners spreads learners over 6e–3e; keep the certifying level and relabel it
        everyone = generate_learners(seed * 100 + i, students * 4)
        certifying = [lrn for lrn in everyone if lrn.division.startswith("3")][:students]
        if level == "lycee":
            from dataclasses import replace

            certifying = [
                replace(
                    lrn,
                    division="T" + lrn.division[1:],
                    birth_date=lrn.birth_date.replace(year=lrn.birth_date.year - 3),
                    mef_code="20212012110",
                )
                for lrn in certifying
            ]
        schools.append(School(random_uai(rng, "021"), name, level, city, certifying))
    return schools


def school_body(school: School) -> dict[str, Any]:
    rooms = [
        {"name": "CDI", "workstations": 24},
        {"name": "Salle informatique B12", "workstations": 30},
        {"name": "Salle informatique B14", "workstations": 18},
    ]
    staff = [
        {"name": n, "availability": None}
        for n in ("Mme Bernard", "M. Petit", "Mme Roux", "M. Moreau", "Mme Fournier", "M. Girard")
    ]
    return {
        "name": school.name,
        "level": school.level,
        "city": school.city,
        "site": "Bâtiment principal",
        "rooms": rooms,
        "staff": staff,
    }


class Run:
    def __init__(self, urls: dict[str, str], output: Path, log=print, api_token: str | None = None) -> None:
        #: what the académie's portal calls the school APIs with (API_TOKEN)
        portal = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        self.http = {
            name: httpx.Client(base_url=url, timeout=60, headers=portal) for name, url in urls.items()
        }
        #: without the portal's token: the invigilator space and the LSU/LSL API have their own
        self.public = {name: httpx.Client(base_url=url, timeout=60) for name, url in urls.items()}
        self.output = output
        self.log = log

    def call(
        self,
        service: str,
        method: str,
        path: str,
        expect: tuple[int, ...] = (200, 201),
        public: bool = False,
        **kwargs,
    ) -> httpx.Response:
        reply = (self.public if public else self.http)[service].request(method, path, **kwargs)
        if reply.status_code not in expect:
            raise RuntimeError(f"{service} {method} {path} → {reply.status_code}: {reply.text[:2000]}")
        return reply

    def wait(self, what: str, check, seconds: float = 90, every: float = 0.3):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(every)
        raise RuntimeError(f"timed out after {seconds}s waiting for {what}")

    # ---- eligibility ------------------------------------------------------------------------

    def import_rosters(self, school: School, seed: int) -> None:
        seed = seed * 1000 + int(school.uai[:7]) % 1000
        roster = learner_csv_bytes(school.learners, delimiter=";", bom=True)
        reply = self.call(
            "eligibility",
            "POST",
            f"/schools/{school.uai}/rosters",
            files={"file": (f"export_eleves_{school.uai}.csv", roster, "text/csv")},
        ).json()
        participations = generate_participations(seed, school.learners, share_rate=0.9, certifiable_rate=0.85)
        campaign = campaign_csv_bytes(participations, organisation=school.name)
        report = self.call(
            "eligibility",
            "POST",
            f"/schools/{school.uai}/campaign-exports",
            files={"file": ("collecte_profils.csv", campaign, "text/csv")},
        ).json()
        summary = self.call("eligibility", "GET", f"/schools/{school.uai}/certifiability").json()
        school.summary["roster"] = reply
        school.summary["campaign"] = report
        school.summary["certifiability"] = summary
        self.log(
            f"  {school.uai} {school.name}: {len(school.learners)} learners imported; certifiability {summary.get('counts', summary)}"
        )

    # ---- scheduler --------------------------------------------------------------------------

    def plan_and_convoke(self, school: School) -> None:
        self.call("scheduler", "PUT", f"/schools/{school.uai}", json=school_body(school))
        certifiable = school.summary["certifiability"]
        expected = _count(certifiable, "certifiable")
        # a real SIECLE roster holds the whole school: name the certifying classes (3e / terminales)
        certifying = sorted({learner.division for learner in school.learners})

        def classes_known() -> bool:
            classes = self.call("scheduler", "GET", f"/schools/{school.uai}").json()["classes"]
            known = {c["division"] for c in classes}
            return known >= set(certifying) and sum(c["certifiable"] for c in classes) >= expected

        self.wait(f"{school.uai}: the scheduler to learn its classes and certifiable learners", classes_known)
        plan = self.call(
            "scheduler",
            "POST",
            f"/schools/{school.uai}/plans",
            json={"school_year": "2026-2027", "divisions": certifying},
        ).json()
        if plan["status"] != "proposed":
            raise RuntimeError(f"{school.uai}: no plan: {plan['error']}")
        confirmed = self.call("scheduler", "POST", f"/plans/{plan['plan_id']}/confirm").json()
        documents = self.output / "documents" / school.uai
        documents.mkdir(parents=True, exist_ok=True)
        for session_id in confirmed["session_ids"]:
            self.call("scheduler", "POST", f"/sessions/{session_id}/convocations")
            detail = self.call("scheduler", "GET", f"/sessions/{session_id}").json()
            bundle = self.call("scheduler", "GET", f"/sessions/{session_id}/bundle.zip")
            (documents / f"session-{detail['session_number']}.zip").write_bytes(bundle.content)
            school.sessions.append(detail)
        self.log(
            f"  {school.uai}: plan of {len(plan['sessions'])} sessions over {len(plan['half_days'])} half-day(s)"
            f" for {', '.join(certifying)} confirmed; "
            f"{sum(len(s['candidates']) for s in school.sessions)} candidates convoked"
        )

    # ---- finalisation -----------------------------------------------------------------------

    def run_the_day(self, school: School, rng: random.Random) -> None:
        for session in school.sessions:
            login = self.wait(
                f"session {session['session_number']} to reach the invigilator space",
                lambda s=session: self._try_login(s),
            )
            headers = {"Authorization": f"Bearer {login['token']}"}
            base = f"/invigilator/sessions/{session['session_id']}/candidates"
            reports = []
            school.summary.setdefault("started", 0)
            for index, candidate in enumerate(session["candidates"]):
                cid = candidate["candidate_id"]
                if rng.random() < 0.05:
                    reports.append({"candidate_id": cid, "present": False})
                    continue
                for step in ("presence", "start"):
                    self.call("finalisation", "POST", f"{base}/{cid}/{step}", public=True, headers=headers)
                school.summary["started"] += 1
                if index == 0 and rng.random() < 0.5:
                    self.call(
                        "finalisation",
                        "POST",
                        f"/invigilator/sessions/{session['session_id']}/incidents",
                        public=True,
                        headers=headers,
                        json={
                            "candidate_id": cid,
                            "code": "C7",
                            "description": "Connexion perdue 5 minutes, reprise autorisée",
                        },
                    )
                    self.call("finalisation", "POST", f"{base}/{cid}/resume", public=True, headers=headers)
                if rng.random() < 0.03:
                    self.call("finalisation", "POST", f"{base}/{cid}/end", public=True, headers=headers)
                    reports.append({"candidate_id": cid, "present": True, "abort_reason": "technical"})
                    continue
                self.call("finalisation", "POST", f"{base}/{cid}/complete", public=True, headers=headers)
                reports.append({"candidate_id": cid, "present": True})
            if any(r["present"] for r in reports):
                self.expect_session_locked(session)
            self.call(
                "finalisation",
                "PUT",
                f"/sessions/{session['session_id']}/finalisation",
                json={
                    "examiner_global_comment": None,
                    "has_incident": False,
                    "has_joining_issue": False,
                    "candidate_reports": reports,
                },
            )
        self.log(f"  {school.uai}: {len(school.sessions)} session(s) supervised and finalised")

    def expect_session_locked(self, session: dict) -> None:
        """A test started (SessionStarted): the scheduler must refuse to move the session, before
        any finalisation."""
        path = f"/sessions/{session['session_id']}"
        self.wait(
            f"the scheduler to learn that session {session['session_number']} started",
            lambda: self.call("scheduler", "GET", path).json()["started"],
        )
        refused = self.call("scheduler", "PATCH", path, expect=(409,), json={"time": session["time"]})
        if refused.json()["error"]["code"] != "session.started":
            raise RuntimeError(f"session {session['session_number']}: unexpected refusal {refused.text}")

    def _try_login(self, session: dict) -> dict | None:
        reply = self.public["finalisation"].post(
            "/invigilator/login",
            json={"session_number": session["session_number"], "password": session["invigilator_password"]},
        )
        return reply.json() if reply.status_code == 200 else None

    # ---- export -----------------------------------------------------------------------------

    def collect_exports(self, school: School) -> None:
        divisions = sorted({c["division"] for s in school.sessions for c in s["candidates"]})
        started = school.summary["started"]

        def livret_complete() -> dict | None:
            """Pix gives a result to every candidate who started a test; wait for all of them."""
            reply = self.http["export"].get(f"/schools/{school.uai}/livret.json")
            if reply.status_code != 200:
                return None
            certifications = reply.json()["data"]["attributes"]["certifications"]
            return reply.json() if len(certifications) >= started else None

        livret = self.wait(f"{school.uai}: results to reach the livret", livret_complete, seconds=120)
        target = self.output / "http" / school.uai
        target.mkdir(parents=True, exist_ok=True)
        (target / "livret.json").write_text(
            json.dumps(livret, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        for division in divisions:
            # the export is eventually consistent: a class appears once its roster and results both arrived
            csv = self.wait(
                f"{school.uai}: the class results CSV of {division}",
                lambda d=division: _ok(
                    self.http["export"].get(f"/schools/{school.uai}/classes/{d}/results.csv")
                ),
            )
            (target / f"resultats_{division}.csv").write_bytes(csv.content)
            pdf = self.http["export"].get(f"/schools/{school.uai}/classes/{division}/attestations.pdf")
            if pdf.status_code == 200:
                (target / f"attestations_{division}.pdf").write_bytes(pdf.content)
            readiness = self.call(
                "export", "GET", f"/schools/{school.uai}/classes/{division}/readiness"
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

    def livret_api(self, uai: str, client_id: str, secret: str) -> int:
        token = self.call(
            "export",
            "POST",
            "/api/application/token",
            public=True,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": "organizations-certifications-result",
            },
        ).json()["access_token"]
        feed = self.call(
            "export",
            "GET",
            f"/api/organizations/{uai}/certifications",
            public=True,
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        return len(feed["data"]["attributes"]["certifications"])


def _ok(reply: httpx.Response) -> httpx.Response | None:
    return reply if reply.status_code == 200 else None


def livret_client(schools: list[School]) -> dict[str, Any]:
    """The LSU/LSL reader of the run: allowed to read the generated schools' livrets."""
    return {
        "client_id": "lsu-lsl-academie",
        "secret": "local-livret-secret",
        "uais": [s.uai for s in schools],
    }


def _count(summary: dict, key: str) -> int:
    counts = summary.get("counts", summary)
    return int(counts.get(key, 0))


def run_academie(run: Run, schools: list[School], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.monotonic()
    run.log("1. rosters and profile collections (eligibility)")
    for school in schools:
        run.import_rosters(school, seed)
    run.log("2. planning, sessions, enrolment, convocations (scheduler)")
    for school in schools:
        run.plan_and_convoke(school)
    run.log("3. the certification day: invigilator space and finalisation (finalisation)")
    for school in schools:
        run.run_the_day(school, rng)
    run.log("4. results from the Pix sandbox, class exports and livrets (export)")
    for school in schools:
        run.collect_exports(school)
    client = livret_client(schools)
    feed = {s.uai: run.livret_api(s.uai, client["client_id"], client["secret"]) for s in schools}
    run.log(f"5. LSU/LSL API: certifications served per UAI {feed}")
    return {
        "seconds": round(time.monotonic() - started, 1),
        "schools": [
            {
                "uai": s.uai,
                "name": s.name,
                "level": s.level,
                "learners": len(s.learners),
                "sessions": len(s.sessions),
                "livret": s.summary.get("livret"),
            }
            for s in schools
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=3)
    parser.add_argument("--students", type=int, default=60, help="certifying students per school")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--keep-running", action="store_true", help="leave the services up afterwards")
    args = parser.parse_args()
    output = (args.output or REPO / "out" / f"academie-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    calendar = provisional_calendar(output / "calendar-with-provisional-2026-2027.json")
    schools = generate_schools(args.seed, args.schools, args.students)
    config = StackConfig(
        kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        admin_database_url=os.environ["DATABASE_URL"],
        log_dir=output / "logs",
        output_dir=output / "exports",
        extra_env={"CALENDAR_FILE": str(calendar)},
        export_clients=[livret_client(schools)],
    )
    print(f"== starting the four services and the Pix sandbox (logs: {config.log_dir})")
    stack = start_stack(config)
    try:
        run = Run({s: config.url(s) for s in config.ports}, output, api_token=config.api_token)
        summary = run_academie(run, schools, args.seed)
        (output / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        files = sorted(p.relative_to(output) for p in output.rglob("*") if p.is_file())
        print(f"\n== académie run finished in {summary['seconds']} s; {len(files)} files in:\n{output}")
        for folder in ("exports", "http", "documents"):
            print(f"   {folder}/: {sum(1 for f in files if f.parts[0] == folder)} files")
        if args.keep_running:
            print(
                "services running (Ctrl-C to stop): "
                + ", ".join(f"{s} {config.url(s)}" for s in config.ports)
                + f"; school APIs want Authorization: Bearer {config.api_token}"
            )
            while True:
                time.sleep(3600)
    finally:
        stack.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
