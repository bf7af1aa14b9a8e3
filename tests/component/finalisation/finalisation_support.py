"""Builders for the finalisation component and integration tests: scheduler events, an invigilator
client, and results files written byte for byte in Pix's formats (pix-domain §7.1, §7.2)."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx

from shared.contracts.envelope import Envelope
from shared.contracts.events import CandidatesEnrolled, EnrolledCandidate, SessionCreated
from shared.password_hash import keyed_verifier
from shared.settings import DEV_INVIGILATOR_PASSWORD_KEY
from tests.events import session

PASSWORD = "B3x7K9!q"
SESSION_DATE = date(2027, 3, 10)
#: 09:00 in Paris on the session day (UTC+1 in March before the DST change).
SESSION_START = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)

#: The exact header line of Pix Orga's class results CSV, copied from pix-domain §7.1.
CLASS_CSV_HEADER = (
    '"Numéro de certification";"Prénom";"Nom";"Date de naissance";"Lieu de naissance";"Identifiant Externe";'
    '"Statut";"Nombre de Pix";"1.1";"1.2";"1.3";"2.1";"2.2";"2.3";"2.4";"3.1";"3.2";"3.3";"3.4";"4.1";"4.2";'
    '"4.3";"5.1";"5.2";"Commentaire jury pour l’organisation";"Session";"Date de passage de la certification"'
)
COMPETENCES = (
    "1.1",
    "1.2",
    "1.3",
    "2.1",
    "2.2",
    "2.3",
    "2.4",
    "3.1",
    "3.2",
    "3.3",
    "3.4",
    "4.1",
    "4.2",
    "4.3",
)
COMPETENCES += ("5.1", "5.2")


@dataclass
class SeededSession:
    session_id: str
    session_number: int
    uai: str
    created: SessionCreated
    enrolled: CandidatesEnrolled
    candidates: list[EnrolledCandidate] = field(default_factory=list)

    def candidate(self, index: int) -> EnrolledCandidate:
        return self.candidates[index]


_HASH_CACHE: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = keyed_verifier(password, DEV_INVIGILATOR_PASSWORD_KEY)
    return _HASH_CACHE[password]


def session_events(
    candidates: int = 3,
    *,
    session_date: date = SESSION_DATE,
    time: str = "09:00",
    uai: str = "0750001A",
    extra_time: dict[int, int] | None = None,
    password: str = PASSWORD,
) -> SeededSession:
    """SessionCreated + CandidatesEnrolled as the scheduler raises them, with a random session number."""
    session_id = str(uuid.uuid4())
    number = random.randint(100_000, 2_000_000_000)
    suffix = uuid.uuid4().hex[:6]
    enrolled = [
        EnrolledCandidate(
            candidate_id=f"cand-{suffix}-{i}",
            learner_id=f"learner-{suffix}-{i}",
            ine=f"{random.randint(100_000_000, 999_999_999)}AB",
            first_name=f"Élève{i}",
            last_name=f"Nom-{suffix}-{i}",
            birthdate=date(2012, 1, 1 + i),
            division="3A",
            extra_time_percentage=(extra_time or {}).get(i, 0),
        )
        for i in range(candidates)
    ]
    created = session(
        uai,
        number,
        session_id=session_id,
        room="Salle 12",
        date=session_date,
        time=time,
        invigilator_password_verifier=password_hash(password),
        created_at=datetime.now(UTC),
    )
    enrolment = CandidatesEnrolled(
        session_id=session_id, uai=uai, candidates=enrolled, enrolled_at=datetime.now(UTC)
    )
    return SeededSession(session_id, number, uai, created, enrolment, enrolled)


def fake_envelope(event) -> Envelope:
    return Envelope.new(source="/certibus/scheduler", type=event.event_type, subject=event.subject())


class Invigilator:
    """The invigilator's browser: logs in, then acts on one session with its token."""

    def __init__(self, http: httpx.AsyncClient, session: SeededSession) -> None:
        self.http, self.session, self.token = http, session, ""

    async def log_in(self, password: str = "C-" + PASSWORD) -> httpx.Response:
        response = await self.http.post(
            "/invigilator/login",
            json={"session_number": self.session.session_number, "password": password},
        )
        if response.status_code == 200:
            self.token = response.json()["token"]
        return response

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, candidate_index: int | None = None, action: str = "") -> str:
        base = f"/invigilator/sessions/{self.session.session_id}"
        if candidate_index is None:
            return base
        return f"{base}/candidates/{self.session.candidate(candidate_index).candidate_id}/{action}"

    async def room(self) -> httpx.Response:
        return await self.http.get(self.url(), headers=self.headers)

    async def act(self, index: int, action: str, method: str = "POST") -> httpx.Response:
        return await self.http.request(method, self.url(index, action), headers=self.headers)

    async def start(self, index: int) -> None:
        for action in ("presence", "start"):
            response = await self.act(index, action)
            assert response.status_code == 200, response.text

    async def take_test(self, index: int) -> None:
        await self.start(index)
        response = await self.act(index, "complete")
        assert response.status_code == 200, response.text

    async def incident(self, **body: Any) -> httpx.Response:
        return await self.http.post(f"{self.url()}/incidents", json=body, headers=self.headers)


def finalisation_body(
    session: SeededSession,
    present: dict[int, str | None] | None = None,
    *,
    comment: str | None = None,
    has_incident: bool = False,
    has_joining_issue: bool = False,
    issue_reports: dict[int, list[dict]] | None = None,
) -> dict[str, Any]:
    """`present` maps a candidate index to its abort reason (None: completed); the others are absent."""
    present = present or {}
    reports = []
    for i, candidate in enumerate(session.candidates):
        report: dict[str, Any] = {"candidate_id": candidate.candidate_id, "present": i in present}
        if i in present and present[i] is not None:
            report["abort_reason"] = present[i]
        if issue_reports and i in issue_reports:
            report["issue_reports"] = issue_reports[i]
        reports.append(report)
    return {
        "examiner_global_comment": comment,
        "has_incident": has_incident,
        "has_joining_issue": has_joining_issue,
        "candidate_reports": reports,
    }


# ---- results files --------------------------------------------------------------------------------


def csv_line(
    certification_id: int,
    candidate: EnrolledCandidate,
    session_number: int,
    *,
    status: str = "Validée",
    score: int | str = 412,
    levels: list[int | str] | None = None,
    comment: str = "",
    taken_on: str = "10/03/2027",
    birthplace: str = "Paris",
) -> str:
    """A data line as Pix's DivisionCertificationResultsCsvBuilder writes it: text quoted, numbers not."""
    values = levels if levels is not None else [3, 3, 4, 2, 3, 3, 2, 4, 3, 3, 1, 3, 2, 3, 3, 2]

    def cell(v: int | str) -> str:
        return str(v) if isinstance(v, int) else f'"{v}"'

    birth = candidate.birthdate.strftime("%d/%m/%Y")
    return ";".join(
        [
            str(certification_id),
            f'"{candidate.first_name}"',
            f'"{candidate.last_name}"',
            f'"{birth}"',
            f'"{birthplace}"',
            '""',
            f'"{status}"',
            cell(score),
            *(cell(v) for v in values),
            f'"{comment}"',
            str(session_number),
            f'"{taken_on}"',
        ]
    )


def class_csv(*lines: str, header: str = CLASS_CSV_HEADER) -> bytes:
    return ("\ufeff" + header + "\n" + "".join(line + "\n" for line in lines)).encode("utf-8")


def livret_entry(
    certification_id: int,
    candidate: EnrolledCandidate,
    *,
    status: str = "validated",
    score: int = 520,
    ine: str | None = "same",
    levels: dict[str, int] | None = None,
) -> dict[str, Any]:
    levels = levels if levels is not None else {"1.1": 6, "5.2": 4}
    published = status == "validated"
    return {
        "id": certification_id,
        "firstName": candidate.first_name,
        "middleName": None,
        "thirdName": None,
        "lastName": candidate.last_name,
        "birthdate": candidate.birthdate.isoformat(),
        "nationalStudentId": candidate.ine if ine == "same" else ine,
        "date": "2027-03-10T08:05:00.000Z",
        "verificationCode": "P-Y468ACDE",
        "deliveredAt": "2027-03-20T10:00:00.000Z" if published else None,
        "certificationCenter": "Collège Jean Moulin",
        "status": status,
        "pixScore": score if published else 0,
        "competenceResults": [{"competenceId": k, "level": v} for k, v in sorted(levels.items())]
        if published
        else [],
    }


def livret_json(*entries: dict[str, Any]) -> bytes:
    document = {
        "data": {
            "type": "certificationsResults",
            "attributes": {"certifications": list(entries)},
            "relationships": {
                "competences": {"data": [{"id": c, "type": "competences"} for c in COMPETENCES]}
            },
        },
        "included": [{"type": "areas", "id": "1", "attributes": {"name": "Information et données"}}],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
