"""The console's pages: sign-in, a school's Phase 3 checklist, its sessions, its class results.

Every page reads the services with the signed-in person's token (backend.Backend); what a service
refuses is shown, never worked around: another school's UAI or session is the service's 404.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import urllib.parse
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.console.backend import Backend, File, Refused
from services.console.checklist import phase3_steps
from services.console.oidc import SESSION_KEY, OAuthError, Provider, SignedIn

router = APIRouter()

#: the scheduler's session papers (``kind`` in its URL) and their names in Pix Certif's words
DOCUMENTS = {
    "convocations": "Convocations des candidats",
    "attendance-sheet": "Feuille d'émargement",
    "invigilator-kit": "Kit du surveillant",
    "incident-report": "Procès-verbal d'incident",
    "fraud-report": "Procès-verbal de fraude",
}
PARIS = ZoneInfo("Europe/Paris")
#: why a learner holds a class back from the livret (the export service's readiness blockers)
BLOCKERS = {
    "no_result": "aucun résultat de certification",
    "result_pending": "résultat pas encore publié par Pix",
    "missing_ine": "INE manquant dans la base élèves",
    "left_school": "a quitté l'établissement : son résultat ne sera pas exporté",
}


class SignInNeeded(Exception):
    """No usable session: the handler sends the person to the provider, then back to ``next``."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def backend(request: Request) -> Backend:
    return request.app.state.backend


def provider(request: Request) -> Provider:
    return request.app.state.provider


async def signed_in(request: Request) -> SignedIn:
    """The signed-in person with a fresh access token, or a redirect to sign in."""
    user = SignedIn.from_session(request.session.get(SESSION_KEY))
    fresh = await provider(request).fresh(user) if user else None
    if fresh is None:
        request.session.pop(SESSION_KEY, None)
        raise SignInNeeded(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if fresh is not user:
        request.session[SESSION_KEY] = fresh.as_session()
    return fresh


def page(
    request: Request, name: str, user: SignedIn | None, status: int = 200, **context: Any
) -> HTMLResponse:
    return templates(request).TemplateResponse(
        request, name, {"user": user, "documents": DOCUMENTS, **context}, status_code=status
    )


def download(file: File) -> Response:
    return Response(file.content, headers=file.headers)


def today() -> dt.date:
    return dt.datetime.now(PARIS).date()


# -- sign-in --------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """Signed out: the sign-in page. Signed in with one school: its checklist; several: the choice."""
    user = SignedIn.from_session(request.session.get(SESSION_KEY))
    if user is None:
        return page(request, "signed_out.html", None)
    if len(user.uais) == 1:
        return RedirectResponse(request.url_for("school", uai=user.uais[0]), status_code=303)
    return page(request, "choose.html", user)


def _local_path(url: str) -> bool:
    """A path of the console itself: never another site's address (``//host``, ``/\\host``, ``https:``)."""
    return (
        url.startswith("/")
        and not url.startswith(("//", "/\\"))
        and "\\" not in url
        and ":" not in url.split("?")[0]
    )


@router.get("/connexion")
async def sign_in(request: Request, next: str = "/") -> Response:
    """Off to the académie's login page; ``next`` (a path of the console only) is where to come back."""
    request.session["next"] = next if _local_path(next) else "/"
    return await provider(request).start(request)


@router.get("/auth/callback", name="auth_callback")
async def auth_callback(request: Request) -> Response:
    """The provider's redirect: exchange the code, keep the tokens in the signed session cookie."""
    try:
        user = await provider(request).finish(request)
    except OAuthError as exc:
        return page(
            request,
            "error.html",
            None,
            status=400,
            title="Connexion impossible",
            message=f"Le fournisseur d'identité a refusé la connexion ({exc.error}). Réessayez.",
        )
    next_url = request.session.pop("next", "/")
    request.session[SESSION_KEY] = user.as_session()
    return RedirectResponse(next_url, status_code=303)


@router.post("/deconnexion")
async def sign_out(request: Request) -> Response:
    """Forget the session here, then close it at the provider too."""
    request.session.clear()
    back = str(request.url_for("home"))
    return RedirectResponse(await provider(request).logout_url(back) or back, status_code=303)


# -- a school -------------------------------------------------------------------------------------


async def _session_details(api: Backend, token: str, uai: str) -> list[dict[str, Any]]:
    listed = await api.json("scheduler", f"/schools/{uai}/sessions", token)
    return list(
        await asyncio.gather(*(api.json("scheduler", f"/sessions/{s['session_id']}", token) for s in listed))
    )


async def _exports(api: Backend, token: str, uai: str) -> dict[str, Any]:
    return await api.json("export", f"/schools/{uai}/exports", token)


@router.get("/etablissements/{uai}", response_class=HTMLResponse, name="school")
async def school(request: Request, uai: str, user: SignedIn = Depends(signed_in)) -> Response:
    """The Phase 3 checklist: each step's status, the certification window, Pix Certif's opening."""
    api, token = backend(request), user.access_token
    checklist, school_info, sessions, exports = await asyncio.gather(
        api.json("scheduler", f"/schools/{uai}/checklist", token),
        api.json("scheduler", f"/schools/{uai}", token),
        _session_details(api, token, uai),
        _exports(api, token, uai),
    )
    return page(
        request,
        "school.html",
        user,
        section="school",
        uai=checklist["uai"],
        school=school_info,
        checklist=checklist,
        steps=phase3_steps(checklist, sessions, exports, today()),
        sessions=sessions,
    )


@router.get("/etablissements/{uai}/sessions", response_class=HTMLResponse, name="sessions")
async def sessions(request: Request, uai: str, user: SignedIn = Depends(signed_in)) -> Response:
    found = await backend(request).json(
        "scheduler", f"/schools/{uai}/sessions", user.access_token, {"include_cancelled": "true"}
    )
    return page(request, "sessions.html", user, section="sessions", uai=uai.upper(), sessions=found)


@router.get("/sessions/{session_id}", response_class=HTMLResponse, name="session")
async def session(request: Request, session_id: uuid.UUID, user: SignedIn = Depends(signed_in)) -> Response:
    """The session as Pix Certif shows it, its candidates and its papers."""
    found = await backend(request).json("scheduler", f"/sessions/{session_id}", user.access_token)
    return page(request, "session.html", user, section="sessions", uai=found["uai"], session=found)


@router.get("/sessions/{session_id}/documents/{kind}.pdf", name="session_document")
async def session_document(
    request: Request, session_id: uuid.UUID, kind: str, user: SignedIn = Depends(signed_in)
) -> Response:
    path = f"/sessions/{session_id}/documents/{urllib.parse.quote(kind, safe='')}.pdf"
    return download(await backend(request).file("scheduler", path, user.access_token))


@router.get("/sessions/{session_id}/candidats/{candidate_id}/convocation.pdf", name="candidate_convocation")
async def candidate_convocation(
    request: Request, session_id: uuid.UUID, candidate_id: uuid.UUID, user: SignedIn = Depends(signed_in)
) -> Response:
    path = f"/sessions/{session_id}/candidates/{candidate_id}/convocation.pdf"
    return download(await backend(request).file("scheduler", path, user.access_token))


@router.get("/sessions/{session_id}/dossier.zip", name="session_bundle")
async def session_bundle(
    request: Request, session_id: uuid.UUID, user: SignedIn = Depends(signed_in)
) -> Response:
    return download(
        await backend(request).file("scheduler", f"/sessions/{session_id}/bundle.zip", user.access_token)
    )


# -- results --------------------------------------------------------------------------------------


@router.get("/etablissements/{uai}/resultats", response_class=HTMLResponse, name="results")
async def results(
    request: Request,
    uai: str,
    classe: str | None = Query(default=None, max_length=64),
    user: SignedIn = Depends(signed_in),
) -> Response:
    """Choose a class, then download its results CSV and attestations PDF (from the export service)."""
    api, token = backend(request), user.access_token
    checklist, exports = await asyncio.gather(
        api.json("scheduler", f"/schools/{uai}/checklist", token), _exports(api, token, uai)
    )
    divisions = [c["division"] for c in checklist["classes"]]
    chosen = classe if classe in divisions else None
    files = [f for f in exports.get("files", []) if chosen and f.get("division") == chosen]
    readiness = None
    if chosen:
        try:
            readiness = await api.json("export", _class_path(uai, chosen, "readiness"), token)
        except Refused as refused:
            if refused.status != 404:  # a class the export service has no learner of yet
                raise
    return page(
        request,
        "results.html",
        user,
        section="results",
        uai=checklist["uai"],
        divisions=divisions,
        chosen=chosen,
        files=files,
        readiness=readiness,
        blockers=BLOCKERS,
    )


def _class_path(uai: str, division: str, name: str) -> str:
    return f"/schools/{uai}/classes/{urllib.parse.quote(division, safe='')}/{name}"


@router.get("/etablissements/{uai}/classes/{division}/resultats.csv", name="class_csv")
async def class_csv(
    request: Request, uai: str, division: str, user: SignedIn = Depends(signed_in)
) -> Response:
    return download(
        await backend(request).file("export", _class_path(uai, division, "results.csv"), user.access_token)
    )


@router.get("/etablissements/{uai}/classes/{division}/attestations.pdf", name="class_attestations")
async def class_attestations(
    request: Request, uai: str, division: str, user: SignedIn = Depends(signed_in)
) -> Response:
    path = _class_path(uai, division, "attestations.pdf")
    return download(await backend(request).file("export", path, user.access_token))


async def refused_page(request: Request, exc: Refused) -> Response:
    """What a service refused, in the page's words (404: not there, or not the person's school)."""
    if exc.status == 401:
        request.session.pop(SESSION_KEY, None)
        return RedirectResponse(f"/connexion?next={urllib.parse.quote(request.url.path)}", status_code=303)
    user = SignedIn.from_session(request.session.get(SESSION_KEY))
    if exc.status == 404:
        title = "Page introuvable"
        message = (
            "Cet établissement, cette session ou cette classe n'existe pas, ou n'est pas l'un de vos"
            " établissements."
        )
    else:
        title, message = "Demande refusée", exc.message
    return page(request, "error.html", user, status=exc.status, title=title, message=message, code=exc.code)
