"""Page 5, finalising a session (the referent's form, finalisation's PUT /sessions/{id}/finalisation).

The candidates come from the scheduler's session; the form accounts for each (test completed,
abandoned, technical problem, absent), transcribes the PV d'incident's reports by code, and asks
the two questions and the global comment Pix Certif asks. What is missing is said before anything
is sent, next to the field it concerns; what the finalisation service refuses is said in French,
next to the candidate it names. The service decides: the console only checks the form is filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from services.console.backend import Refused
from services.console.french import (
    ABORT_REASONS,
    ISSUE_CATEGORIES,
    ISSUE_LABELS,
    ROOM_CODES,
    refusal,
)
from services.console.oidc import SignedIn
from services.console.pages import backend, page, signed_in

router = APIRouter()

#: as Pix Certif limits the examiner's global comment (the service refuses more)
COMMENT_MAX_LENGTH = 500
#: how each candidate's session ended, the form's radio values → (present, abort_reason)
OUTCOMES = {
    "completed": (True, None),
    "candidate": (True, "candidate"),
    "technical": (True, "technical"),
    "absent": (False, None),
}
OUTCOME_LABELS = {
    "completed": "Présent, test terminé",
    "candidate": f"Présent — {ABORT_REASONS['candidate']}",
    "technical": f"Présent — {ABORT_REASONS['technical']}",
    "absent": "Absent",
}
#: the PV's codes whose report Pix refuses without a description, or without a question number
NEEDS_DESCRIPTION = frozenset({"C1", "C2", "C4", "C7", "C8"})
NEEDS_QUESTION = frozenset(code for code in ISSUE_LABELS if code.startswith("E"))
#: the two questions of Pix Certif's finalisation (pix-domain §5.2)
FLAGS = {
    "has_incident": (
        "Malgré un incident survenu pendant la session, les candidats ont pu terminer leur test de"
        " certification. Un temps supplémentaire a été accordé à un ou plusieurs candidats."
    ),
    "has_joining_issue": (
        "Un ou plusieurs candidats étaient présents en session de certification mais n'ont pas pu"
        " rejoindre la session."
    ),
}


@dataclass
class Problem:
    """One thing the page says is missing or refused, and the field (its id) it is about."""

    field_id: str
    message: str


@dataclass
class FinalisationForm:
    """The posted form as typed, and the API body once nothing is missing."""

    values: dict[str, str]
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> dict[str, str]:
        return {p.field_id: p.message for p in self.problems}


def _report(values: dict[str, str], prefix: str, who: str, problems: list[Problem]) -> dict | None:
    """The issue report of one slot (``prefix``-code, -description, -question), or None if empty."""
    code = values.get(f"{prefix}-code", "")
    if not code:
        return None
    description = values.get(f"{prefix}-description", "").strip() or None
    question = values.get(f"{prefix}-question", "").strip()
    if code not in ISSUE_LABELS:
        problems.append(Problem(f"{prefix}-code", f"{who} : choisissez un signalement de la liste."))
        return None
    if code in NEEDS_DESCRIPTION and not description:
        problems.append(
            Problem(f"{prefix}-description", f"{who} : le signalement {code} demande une description.")
        )
    if code in NEEDS_QUESTION and not question:
        problems.append(
            Problem(f"{prefix}-question", f"{who} : le signalement {code} demande le numéro de la question.")
        )
    if question and not question.isdigit():
        problems.append(Problem(f"{prefix}-question", f"{who} : le numéro de question s'écrit en chiffres."))
        question = ""
    return {
        "code": code,
        "description": description,
        "question_number": int(question) if question else None,
    }


def read_form(values: dict[str, str], candidates: list[dict[str, Any]]) -> tuple[FinalisationForm, dict]:
    """The form's problems (what is missing, where) and the API body it makes."""
    problems: list[Problem] = []
    reports = []
    for c in candidates:
        cid, who = c["candidate_id"], f"{c['first_name']} {c['last_name']}"
        outcome = values.get(f"outcome-{cid}", "")
        if outcome not in OUTCOMES:
            problems.append(
                Problem(
                    f"outcome-{cid}",
                    f"{who} : indiquez s'il était présent et comment son test s'est terminé.",
                )
            )
            continue
        present, abort_reason = OUTCOMES[outcome]
        report: dict[str, Any] = {"candidate_id": cid, "present": present, "abort_reason": abort_reason}
        issue = _report(values, f"report-{cid}", who, problems)
        if issue is not None:
            if not present:
                problems.append(Problem(f"report-{cid}-code", f"{who} est absent : pas de signalement."))
            report["issue_reports"] = [issue]
        reports.append(report)
    room_report = _report(values, "room", "Toute la salle", problems)
    if room_report is not None and room_report["code"] not in ROOM_CODES:
        problems.append(
            Problem("room-code", "Ce signalement concerne un candidat : reportez-le sur sa ligne.")
        )
    flags: dict[str, bool] = {}
    for name, question in FLAGS.items():
        answer = values.get(name, "")
        if answer not in ("oui", "non"):
            problems.append(Problem(f"{name}-oui", f"Répondez à la question « {question[:60]}… »."))
        flags[name] = answer == "oui"
    comment = values.get("examiner_global_comment", "")
    if len(comment.strip()) > COMMENT_MAX_LENGTH:
        problems.append(
            Problem(
                "examiner_global_comment",
                f"Le commentaire global a {len(comment.strip())} caractères : {COMMENT_MAX_LENGTH} au plus.",
            )
        )
    body = {
        "examiner_global_comment": comment.strip() or None,
        **flags,
        "candidate_reports": reports,
        "session_incidents": [room_report] if room_report else [],
    }
    return FinalisationForm(values, problems), body


def refusal_problems(exc: Refused, candidates: list[dict[str, Any]]) -> list[Problem]:
    """The service's refusal in French, placed on the candidate(s) it names, else on the form."""
    if exc.status == 404 and exc.code == "auth.not_found":
        return [
            Problem(
                "finalisation-form",
                # the service's 404 says no more (another school's, or not known to it yet)
                "La finalisation est réservée au référent Pix de l'établissement : votre compte ne peut"
                " pas finaliser cette session (ou le service de finalisation ne la connaît pas encore).",
            )
        ]
    names = {c["candidate_id"]: f"{c['first_name']} {c['last_name']}" for c in candidates}
    message = refusal(exc.code, exc.message)
    ids = (
        [exc.details["candidate_id"]]
        if "candidate_id" in exc.details
        else exc.details.get("candidate_ids", [])
    )
    located = [Problem(f"outcome-{cid}", f"{names.get(cid, cid)} : {message}") for cid in ids if cid in names]
    return located or [Problem("finalisation-form", message)]


async def _session(request: Request, session_id: str, user: SignedIn) -> dict[str, Any]:
    return await backend(request).json("scheduler", f"/sessions/{session_id}", user.access_token)


def _form_page(
    request: Request, user: SignedIn, session: dict[str, Any], form: FinalisationForm, status: int = 200
) -> Response:
    candidates = sorted(session["candidates"], key=lambda c: (c["last_name"], c["first_name"]))
    return page(
        request,
        "finalisation.html",
        user,
        status=status,
        section="sessions",
        uai=session["uai"],
        session=session,
        candidates=candidates,
        form=form,
        outcomes=OUTCOME_LABELS,
        flags=FLAGS,
        issue_categories=ISSUE_CATEGORIES,
        room_codes=ROOM_CODES,
        comment_max=COMMENT_MAX_LENGTH,
    )


@router.get("/sessions/{session_id}/finalisation", response_class=HTMLResponse, name="finalisation")
async def finalisation_form(
    request: Request, session_id: str, user: SignedIn = Depends(signed_in)
) -> Response:
    """The empty form (or, once the session is finalised, what the scheduler knows of it)."""
    session = await _session(request, session_id, user)
    return _form_page(request, user, session, FinalisationForm({}))


@router.post("/sessions/{session_id}/finalisation", response_class=HTMLResponse)
async def finalise(request: Request, session_id: str, user: SignedIn = Depends(signed_in)) -> Response:
    """Nothing missing: the finalisation service decides; its answer or refusal is shown."""
    session = await _session(request, session_id, user)
    values = {k: str(v) for k, v in (await request.form()).items()}
    form, body = read_form(values, session["candidates"])
    if form.problems:
        return _form_page(request, user, session, form, status=422)
    try:
        finalised = await backend(request).send(
            "PUT", "finalisation", f"/sessions/{session_id}/finalisation", user.access_token, json=body
        )
    except Refused as exc:
        form.problems = refusal_problems(exc, session["candidates"])
        return _form_page(request, user, session, form, status=exc.status)
    return page(
        request,
        "finalised.html",
        user,
        section="sessions",
        uai=session["uai"],
        session=session,
        finalised=finalised,
        outcomes=OUTCOME_LABELS,
        issue_labels=ISSUE_LABELS,
    )
