"""The whole Phase 3 chain: the five services and the Pix sandbox as real processes on real Kafka and
PostgreSQL, driven only through their public HTTP APIs and files, for a small school year."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import re
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from deploy.local.academie import Run, generate_schools, livret_client, local_run_calendar, run_academie
from deploy.local.draws import candidate_day
from deploy.local.late_enrolment import LATE_REASON
from deploy.local.schools import STAFF_NAMES, School
from deploy.local.stack import StackConfig, start_stack
from shared.contracts.topics import SERVICES
from tests.e2e.conftest import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

#: pix-domain.md §7.1, exact header line of the Pix Orga class results CSV
PIX_ORGA_HEADER = (
    '"Numéro de certification";"Prénom";"Nom";"Date de naissance";"Lieu de naissance";"Identifiant Externe";'
    '"Statut";"Nombre de Pix";"1.1";"1.2";"1.3";"2.1";"2.2";"2.3";"2.4";"3.1";"3.2";"3.3";"3.4";"4.1";"4.2";'
    '"4.3";"5.1";"5.2";"Commentaire jury pour l’organisation";"Session";"Date de passage de la certification"'
)


WORD = re.compile(r"\w+")


def personal_data_in_logs(log_dir: Path, schools: list[School], pattern: str = "*.log") -> list[str]:
    """What of every generated student's INE, first and last names the run's logs show (all levels).

    A name counts as a whole word, case-folded; words the run also uses for non-personal data
    (school, city, staff names) are not evidence and are left out."""
    text = "\n".join(p.read_text(errors="replace") for p in sorted(log_dir.glob(pattern)))
    words = {w.casefold() for w in WORD.findall(text)}
    public = {w.casefold() for s in schools for w in WORD.findall(f"{s.name} {s.city}")}
    public |= {w.casefold() for n in STAFF_NAMES for w in WORD.findall(n)}
    found = []
    for school in schools:
        for learner in school.learners:
            if learner.ine in text or learner.ine.casefold() in words:
                found.append(f"INE {learner.ine}")
            for name in (learner.first_name, learner.last_name):
                leaked = {w.casefold() for w in WORD.findall(name)} & words - public
                found += [f"name {w!r} of {learner.ine[:3]}…" for w in sorted(leaked)]
    return found


@pytest.fixture
def schools():
    seed = random.Random(time.time_ns()).randrange(10**6)  # fresh UAIs: the topics keep earlier runs
    return seed, generate_schools(seed, 2, 30)


@pytest.fixture
def stack(infrastructure, kafka, tmp_path, schools):
    namespace = f"e2e{uuid.uuid4().hex[:6]}"
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    config = StackConfig(
        kafka_bootstrap_servers=kafka,
        admin_database_url=infrastructure.admin_database_url,
        log_dir=tmp_path / "logs",
        output_dir=tmp_path / "exports",
        ports=ports,
        namespace=namespace,
        sandbox_delay_seconds=0.5,
        extra_env={"SCHEDULER_CALENDAR_FILE": str(local_run_calendar(tmp_path / "calendar.json"))},
        export_clients=[livret_client(schools[1])],
    )
    with start_stack(config) as running:
        yield running


def test_a_small_school_year_from_rosters_to_livret_files(stack, schools, tmp_path):
    config = stack.config
    seed, schools = schools
    output = tmp_path / "out"
    run = Run(
        {s: config.url(s) for s in config.ports},
        output,
        log=print,
        api_token=config.api_token,
    )
    summary = run_academie(run, schools, seed)

    for school in schools:
        assert school.sessions, f"{school.uai}: no session planned"
        folder = config.output_dir / school.uai
        # the livret file on disk: exact certificationsResults shape, only this school's learners
        [livret_path] = sorted(folder.glob("*livret*.json"))
        livret = json.loads(livret_path.read_bytes())
        assert livret["data"]["type"] == "certificationsResults"
        certifications = livret["data"]["attributes"]["certifications"]
        our_ines = {lrn.ine for lrn in school.learners}
        assert certifications and {c["nationalStudentId"] for c in certifications} <= our_ines
        assert len(certifications) == school.summary["started"]  # absent candidates have no certification
        assert {c["status"] for c in certifications} <= {"validated", "rejected", "pending"}
        for c in certifications:
            if c["status"] == "validated":
                assert c["pixScore"] > 0 and c["verificationCode"].startswith("P-")
                assert [r["competenceId"] for r in c["competenceResults"]] == sorted(
                    r["competenceId"] for r in c["competenceResults"]
                )
        assert {i["type"] for i in livret["included"]} == {"areas", "competences"}

        # the absent and aborted of the first day sat again in the catch-up week (issue 16)
        window = school.summary["catch_up"]["window"]
        catch_up = [s for s in school.sessions if window["start"] <= s["date"] <= window["end"]]
        first_day = [s for s in school.sessions if s not in catch_up]
        released = {c["ine"] for s in first_day for c in s["candidates"] if any(candidate_day(seed, c))}
        assert sorted(c["ine"] for s in catch_up for c in s["candidates"]) == sorted(released)
        assert released <= {c["nationalStudentId"] for c in certifications}
        # the "Session" column shows Pix Certif's number (catch-up sessions are created there too)
        catch_up_numbers = {str(s.get("pix_session_number") or s["session_number"]) for s in catch_up}
        # a forgotten student enrolled after the first session's first start sat and has a result
        late = [
            c for s in school.sessions for c in s["candidates"] if c.get("override_reason") == LATE_REASON
        ]
        assert len(late) == school.summary.get("late_enrolments", 0) <= 1
        assert {c["ine"] for c in late} <= {c["nationalStudentId"] for c in certifications}

        # the class CSVs on disk: Pix Orga format, one row per learner with a result
        class_files = sorted(folder.glob("*_resultats_*.csv"))
        assert class_files
        rows = 0
        caught_up = 0
        for path in class_files:
            raw = path.read_bytes()
            assert raw.startswith("\ufeff".encode())
            text = raw.decode("utf-8-sig")
            assert text.split("\n", 1)[0] == PIX_ORGA_HEADER
            parsed = list(csv.reader(io.StringIO(text), delimiter=";"))
            rows += len(parsed) - 1
            caught_up += sum(1 for r in parsed[1:] if r[25] in catch_up_numbers)  # the "Session" column
            assert {r[6] for r in parsed[1:]} <= {"Validée", "Rejetée", "Annulée", "En erreur", "Démarrée"}
        assert rows == len(certifications)
        assert caught_up == len(released)  # each one's latest result is the catch-up's

        # the same feed over the LSU/LSL API
        assert school.summary["livret"]["validated"] + school.summary["livret"]["rejected"] == len(
            certifications
        )

    # the Pix Certif link: every session carries the Pix values of the school's filled file, and
    # Pix's class files (the sandbox's, "Session" = Pix's number) matched every row by that number
    imports = asyncio.run(_class_csv_imports(stack.config))
    for school in schools:
        lines = []  # the first day's plan, then the catch-up week's (…-pix-certif-2.csv)
        for path in sorted((output / "pix-certif").glob(f"{school.uai}-sessions-pix-certif*.csv")):
            lines += list(csv.reader(io.StringIO(path.read_text("utf-8-sig")), delimiter=";"))[1:]
        assert len(lines) == len(school.sessions) == school.summary["pix_certif"]["sessions"]
        by_number = {int(line[0]): line for line in lines}
        for session in school.sessions:
            line = by_number[session["session_number"]]
            assert session["pix_session_number"] == int(line[8]) > session["session_number"]
            assert (session["pix_access_code"], session["invigilator_password"]) == (line[9], line[10])
        by_session = [imports[s["session_id"]] for s in school.sessions if s["session_id"] in imports]
        assert all(unmatched == 0 for _, unmatched in by_session), by_session
        # every learner with a livret line has a matched row; one who aborted and re-sat has two (the
        # first day's file and the catch-up week's)
        assert sum(matched for matched, _ in by_session) >= school.summary["started"], by_session

    for school in schools:
        http_copy = json.loads((output / "http" / school.uai / "livret.json").read_text(encoding="utf-8"))
        assert len(http_copy["data"]["attributes"]["certifications"]) == len(
            json.loads(next((config.output_dir / school.uai).glob("*livret*.json")).read_bytes())["data"][
                "attributes"
            ]["certifications"]
        )
    assert summary["schools"] and all(s["sessions"] for s in summary["schools"])
    assert any(school.summary.get("late_enrolments") for school in schools), "no room seated a late student"
    # the second school sent Pix Orga's certificability file instead of a campaign export
    [orga] = [s for s in schools if s.orga_certificability]
    report = orga.summary["orga_certificability"]
    assert report["rows"] == len(orga.learners) and report["unmatched"] == []
    assert (
        report["matched"] + report["not_available"] == len(orga.learners)
        and report["assessed"]["certifiable"]
    )

    # the académie view at the end of the run: every school through its whole card, in the CSV too
    lines = (output / "academie" / "academie-phase3.csv").read_bytes().decode("utf-8").split("\r\n")
    assert lines[0].startswith("UAI;Nom;Type;Étape;Sessions;Candidats;")
    cards = {line.split(";")[0]: line.split(";") for line in lines[1:] if line}
    for school in schools:
        card = cards[school.uai]
        assert (card[1], card[3], card[4]) == (school.name, "terminé", str(len(school.sessions)))
        assert int(card[5]) == sum(len(s["candidates"]) for s in school.sessions)
    assert summary["academie"]["done"] >= len(schools)

    # the logs of the whole run (five services, the sandbox, the supervisor): no student's INE or name
    logs = sorted(config.log_dir.glob("*.log"))
    assert {p.stem for p in logs} >= {*SERVICES, "pix_sandbox"} and all(p.stat().st_size for p in logs)
    assert personal_data_in_logs(config.log_dir, schools) == []
    # not vacuous: the same search finds the students in the class files the run wrote
    assert personal_data_in_logs(config.output_dir / schools[0].uai, schools, "*.csv")


async def _class_csv_imports(config: StackConfig) -> dict[str, tuple[int, int]]:
    """Session id → (matched, unmatched) of the class results CSVs imported for it (the sandbox's)."""
    conn = await asyncpg.connect(config.admin_database_url)
    try:
        rows = await conn.fetch(
            f'SELECT session_id, matched, unmatched FROM "{config.namespace}_finalisation".results_imports'
            " WHERE source = 'class_results_csv' ORDER BY id"
        )
    finally:
        await conn.close()
    found: dict[str, tuple[int, int]] = {}
    for r in rows:  # one class file per class of the session: their counts add up
        matched, unmatched = found.get(r["session_id"], (0, 0))
        found[r["session_id"]] = (matched + r["matched"], unmatched + r["unmatched"])
    return found
