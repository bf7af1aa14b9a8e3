"""Pix processing sandbox, pure part: SessionFinalised payload → livret scolaire JSON bytes, and
(once the session has a Pix Certif number) Pix Orga's class results CSVs whose "Session" column is
that number, as a school downloads them per class.

Outside Pix nobody can process a real certification, so the sandbox invents plausible V3 results
for the candidates who took the test. Each result is derived from stable facts only: the run's seed,
the learner (INE, or name and birth date without one) and the session's date and time, never from the
ids the services generate (session and candidate UUIDs) nor from the order events arrive in. So the
same payload always gives the same bytes, a replayed event an identical, idempotent import, and two
main-job runs with one ``--seed`` the same results (issue 11). Dates come from the finalisation.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.contracts.pix_formats import CLASS_RESULTS_HEADER_LINE, CLASS_RESULTS_STATUS_LABELS
from shared.contracts.referential import AREAS, COMPETENCES

#: Letters and digits nobody confuses when reading a code aloud (no 0/O, 1/I/L, 5/S, 2/Z …).
VERIFICATION_CODE_ALPHABET = "346789BCDFGHJKMPQRTVWXY"
VERIFICATION_CODE_LENGTH = 8
#: Below the first V3 band (64 pix) the sandbox rejects the certification.
REJECTION_THRESHOLD = 64
#: Highest score reachable today (Pix MAX_REACHABLE_SCORE, level 7).
MAX_REACHABLE_SCORE = 895
PROCESSING_DELAY = timedelta(days=3)
SCORE_MEAN = 360
SCORE_SPREAD = 150


def learner_facts(session: Mapping[str, Any], candidate: Mapping[str, Any], seed: int = 0) -> str:
    """What a result is derived from: the seed, who took the test and the session's date and time."""
    who = candidate.get("ine") or "|".join(
        str(candidate.get(k)) for k in ("last_name", "first_name", "birthdate")
    )
    return f"{seed}:{who}:{session.get('session_date')}:{session.get('session_time')}"


def _rng(facts: str) -> random.Random:
    # A str seed is hashed with SHA-512 by random.Random: stable across runs and Python processes.
    return random.Random(f"pix-sandbox:{facts}")


def certification_id_for(session: Mapping[str, Any], candidate: Mapping[str, Any], seed: int = 0) -> int:
    """A stable 9-digit certification id for one candidate's test."""
    digest = hashlib.sha256(f"certification:{learner_facts(session, candidate, seed)}".encode()).digest()
    return 100_000_000 + int.from_bytes(digest[:8], "big") % 900_000_000


def verification_code(rng: random.Random) -> str:
    return "P-" + "".join(rng.choice(VERIFICATION_CODE_ALPHABET) for _ in range(VERIFICATION_CODE_LENGTH))


def pix_score(rng: random.Random) -> int:
    """Roughly normal around a collège/lycée average, within what V3 can give today."""
    return max(0, min(MAX_REACHABLE_SCORE, round(rng.gauss(SCORE_MEAN, SCORE_SPREAD))))


def competence_levels(score: int, rng: random.Random) -> list[dict[str, Any]]:
    """Levels around score/128 (16 competences × 8 pix a level), ±1, within 0..7, sorted by id."""
    centre = score / 128
    results = []
    for competence in COMPETENCES:
        level = round(centre + rng.uniform(-1.0, 1.0))
        results.append({"competenceId": competence.id, "level": max(0, min(7, level))})
    return results


def _started(candidate: Mapping[str, Any]) -> bool:
    return bool(candidate.get("present")) and candidate.get("started_at") is not None


def certification_for(
    session: Mapping[str, Any], candidate: Mapping[str, Any], delivered_at: str, seed: int = 0
) -> dict[str, Any]:
    rng = _rng(learner_facts(session, candidate, seed))
    score = pix_score(rng)
    code = verification_code(rng)
    validated = score >= REJECTION_THRESHOLD
    return {
        "id": certification_id_for(session, candidate, seed),
        "firstName": candidate["first_name"],
        "middleName": None,
        "thirdName": None,
        "lastName": candidate["last_name"],
        "birthdate": candidate["birthdate"],
        "nationalStudentId": candidate.get("ine"),
        "date": candidate["started_at"],
        "verificationCode": code,
        "deliveredAt": delivered_at,
        "certificationCenter": session.get("certification_center"),
        "status": "validated" if validated else "rejected",
        # Pix fills score and levels only for validated results (schools-lsu-calendar §1.3).
        "pixScore": score if validated else 0,
        "competenceResults": competence_levels(score, rng) if validated else [],
    }


def generate_livret_results(session: Mapping[str, Any], seed: int = 0) -> bytes:
    """Livret scolaire JSON (`certificationsResults`) for the candidates who started, as UTF-8 bytes."""
    finalised_at = datetime.fromisoformat(session["finalised_at"])
    delivered_at = (finalised_at + PROCESSING_DELAY).isoformat()
    certifications = [
        certification_for(session, candidate, delivered_at, seed)
        for candidate in session.get("candidates", [])
        if _started(candidate)
    ]
    certifications.sort(key=lambda c: (c["lastName"], c["firstName"], c["id"]))
    document = {
        "data": {
            "type": "certificationsResults",
            "attributes": {"certifications": certifications},
            "relationships": {
                "competences": {"data": [{"id": c.id, "type": "competences"} for c in COMPETENCES]}
            },
        },
        "included": [{"type": "areas", "id": a.id, "attributes": {"name": a.name}} for a in AREAS]
        + [
            {
                "type": "competences",
                "id": c.id,
                "attributes": {"name": c.name},
                "relationships": {"area": {"data": {"id": c.area_id, "type": "areas"}}},
            }
            for c in COMPETENCES
        ],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


PARIS = ZoneInfo("Europe/Paris")
REJECTION_COMMENT = "Le candidat a répondu faux à plus de 50% des questions posées"


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _csv_line(certification: Mapping[str, Any], candidate: Mapping[str, Any], session_number: int) -> str:
    """One line as Pix's DivisionCertificationResultsCsvBuilder writes it: text quoted, numbers not."""
    validated = certification["status"] == "validated"
    levels = {c["competenceId"]: c["level"] for c in certification["competenceResults"]}
    birth = datetime.strptime(candidate["birthdate"], "%Y-%m-%d").strftime("%d/%m/%Y")
    taken = datetime.fromisoformat(candidate["started_at"]).astimezone(PARIS).strftime("%d/%m/%Y")
    cells = [
        str(certification["id"]),
        _quoted(candidate["first_name"]),
        _quoted(candidate["last_name"]),
        _quoted(birth),
        _quoted(""),
        _quoted(""),
        _quoted(CLASS_RESULTS_STATUS_LABELS[certification["status"]]),
        str(certification["pixScore"]),
        *(str(levels[c.id]) if validated else _quoted("-") for c in COMPETENCES),
        _quoted("" if validated else REJECTION_COMMENT),
        str(session_number),
        _quoted(taken),
    ]
    return ";".join(cells)


def generate_class_results(session: Mapping[str, Any], seed: int = 0) -> dict[str, bytes]:
    """Division → Pix Orga's class results CSV for the session's candidates who started, with Pix
    Certif's session number in "Session"; {} when the session has none (the school never recorded it).

    The same results as ``generate_livret_results`` (same certification ids, scores and levels)."""
    pix_number = session.get("pix_session_number")
    if not pix_number:
        return {}
    finalised_at = datetime.fromisoformat(session["finalised_at"])
    delivered_at = (finalised_at + PROCESSING_DELAY).isoformat()
    lines: dict[str, list[tuple[tuple[str, str, int], str]]] = {}
    for candidate in session.get("candidates", []):
        if not _started(candidate):
            continue
        certification = certification_for(session, candidate, delivered_at, seed)
        key = (candidate["last_name"], candidate["first_name"], certification["id"])
        line = _csv_line(certification, candidate, pix_number)
        lines.setdefault(candidate.get("division") or "", []).append((key, line))
    return {
        division: (
            "\ufeff" + CLASS_RESULTS_HEADER_LINE + "\n" + "".join(line + "\n" for _, line in sorted(rows))
        ).encode()
        for division, rows in sorted(lines.items())
    }
