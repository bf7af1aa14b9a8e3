"""Page 4, the invigilator space on a tablet: the finalisation service's invigilator API in a page.

The invigilator signs in as in Pix Certif, with the session number and its password (no académie
account): the service's short-lived token for that one session is kept in the signed session
cookie. The room (candidates, presence, test states, time left, incidents) is rendered here and
asked again every few seconds by htmx, so what another tablet or the candidates do shows without a
reload; every button is a plain form that also works without JavaScript.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.backend import Backend, Refused
from services.console.french import ISSUE_CATEGORIES, ISSUE_LABELS, ROOM_CODES, TEST_STATES, refusal

router = APIRouter(prefix="/surveillance")
PARIS = ZoneInfo("Europe/Paris")
#: where the invigilator's tokens live in the session cookie: session id → token
TOKENS_KEY = "invigilator_tokens"
#: the console's action slugs → the invigilator API's (method, last path segment)
ACTIONS = {
    "presence": ("POST", "presence"),
    "annuler-presence": ("DELETE", "presence"),
    "debut": ("POST", "start"),
    "reprise": ("POST", "resume"),
    "fin": ("POST", "end"),
    "termine": ("POST", "complete"),
}
#: the button of each action, in Pix Certif's words
ACTION_LABELS = {
    "presence": "Confirmer la présence",
    "annuler-presence": "Annuler la confirmation",
    "debut": "Test commencé",
    "reprise": "Autoriser la reprise",
    "fin": "Mettre fin au test",
    "termine": "Test terminé",
}
#: an invigilator's refusals that mean "sign in again"
SIGN_IN_AGAIN = {"auth.missing_token", "auth.invalid_token", "auth.token_expired", "auth.wrong_session"}


def _backend(request: Request) -> Backend:
    return request.app.state.backend


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, name, {"user": None, **context}, status_code=status
    )


def _token(request: Request, session_id: str) -> str | None:
    return (request.session.get(TOKENS_KEY) or {}).get(session_id)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def seat_actions(seat: dict[str, Any]) -> list[str]:
    """The buttons a candidate's row offers, by where their test stands."""
    state = seat["test_state"]
    if state == "not_started":
        return ["annuler-presence", "debut"] if seat["presence_confirmed"] else ["presence"]
    if state == "started":
        return ["reprise", "fin", "termine"]
    return []


def time_left(seat: dict[str, Any], as_of: dt.datetime) -> str:
    """What the row says of the clock: the minutes left, or how long past the theoretical end."""
    end = seat.get("theoretical_end_at")
    if seat["test_state"] != "started" or not end:
        return ""
    seconds = (dt.datetime.fromisoformat(end) - as_of).total_seconds()
    ends = f"{dt.datetime.fromisoformat(end).astimezone(PARIS):%H:%M}"
    if seconds >= 0:
        return f"{int(seconds // 60)} min restantes (fin prévue à {ends})"
    return f"Temps dépassé de {int(-seconds // 60)} min (fin prévue à {ends})"


def room_context(room: dict[str, Any]) -> dict[str, Any]:
    """The room's answer made ready for its templates (names by candidate, the clock, the counts)."""
    as_of = dt.datetime.fromisoformat(room["as_of"])
    names = {c["candidate_id"]: f"{c['first_name']} {c['last_name']}" for c in room["candidates"]}
    seats = sorted(room["candidates"], key=lambda c: (c["last_name"], c["first_name"]))
    return {
        "room": room,
        "seats": seats,
        "names": names,
        "as_of": as_of.astimezone(PARIS),
        "actions": {c["candidate_id"]: seat_actions(c) for c in seats},
        "time_left": {c["candidate_id"]: time_left(c, as_of) for c in seats},
        "confirmed": sum(1 for c in seats if c["presence_confirmed"] or c["test_state"] != "not_started"),
        "running": sum(1 for c in seats if c["test_state"] == "started"),
        "finished": sum(1 for c in seats if c["test_state"] not in ("not_started", "started")),
        "incidents": [
            {
                **i,
                "who": names.get(i["candidate_id"], "Toute la salle"),
                "label": ISSUE_LABELS.get(i["code"], i["code"]),
                "at": f"{dt.datetime.fromisoformat(i['recorded_at']).astimezone(PARIS):%H:%M}",
            }
            for i in room["incidents"]
        ],
        "states": TEST_STATES,
        "action_labels": ACTION_LABELS,
    }


async def _room(request: Request, session_id: str) -> dict[str, Any]:
    token = _token(request, session_id)
    if token is None:
        raise Refused("finalisation", 401, "auth.missing_token", "no invigilator token")
    return await _backend(request).json("finalisation", f"/invigilator/sessions/{session_id}", token)


def _signed_out(request: Request, exc: Refused) -> Response:
    """Back to the sign-in form with the reason (the token expired, the session closed…)."""
    request.session.pop(TOKENS_KEY, None)
    target = f"{request.url_for('invigilator_login')}?motif={urllib.parse.quote(exc.code)}"
    if _is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _render_room(
    request: Request, session_id: str, *, live_only: bool, message: str | None = None, status: int = 200
) -> Response:
    try:
        room = await _room(request, session_id)
    except Refused as exc:
        if exc.status in (401, 403) or exc.code in SIGN_IN_AGAIN or exc.code.startswith("session."):
            return _signed_out(request, exc)
        raise
    settings = request.app.state.settings
    context = {
        **room_context(room),
        "message": message,
        "refresh_seconds": settings.console_live_refresh_seconds,
        "issue_categories": ISSUE_CATEGORIES,
        "room_codes": ROOM_CODES,
    }
    name = "invigilator_room_live.html" if live_only else "invigilator_room.html"
    return _page(request, name, status=status, **context)


@router.get("", response_class=HTMLResponse, name="invigilator_login")
async def login_form(request: Request, motif: str | None = None) -> Response:
    """Pix Certif's invigilator sign-in: the session number and its password (from the kit)."""
    message = refusal(motif, "") if motif else None
    return _page(request, "invigilator_login.html", message=message, values={})


@router.post("", response_class=HTMLResponse)
async def log_in(request: Request) -> Response:
    form = await request.form()
    number, password = str(form.get("session_number", "")).strip(), str(form.get("password", ""))
    errors = {}
    if not number.isdigit() or int(number) < 1:
        errors["session_number"] = "Saisissez le numéro de session : des chiffres, par exemple 12345."
    if not password.strip():
        errors["password"] = "Saisissez le mot de passe de la session, par exemple C-7X3K9Q."
    values = {"session_number": number}
    if errors:
        return _page(request, "invigilator_login.html", status=422, errors=errors, values=values)
    try:
        granted = await _backend(request).send(
            "POST",
            "finalisation",
            "/invigilator/login",
            None,
            json={"session_number": int(number), "password": password.strip()},
        )
    except Refused as exc:
        message = refusal(exc.code, exc.message, exc.retry_after)
        return _page(request, "invigilator_login.html", status=exc.status, message=message, values=values)
    tokens = dict(request.session.get(TOKENS_KEY) or {})
    tokens[granted["session_id"]] = granted["token"]
    request.session[TOKENS_KEY] = tokens
    return RedirectResponse(
        request.url_for("invigilator_room", session_id=granted["session_id"]), status_code=303
    )


@router.get("/{session_id}", response_class=HTMLResponse, name="invigilator_room")
async def room(request: Request, session_id: str) -> Response:
    """The room: every candidate, their presence and test, the time left, the incidents."""
    return await _render_room(request, session_id, live_only=False)


@router.get("/{session_id}/salle", response_class=HTMLResponse, name="invigilator_room_live")
async def room_live(request: Request, session_id: str) -> Response:
    """The room's live part alone (what htmx asks for every few seconds)."""
    return await _render_room(request, session_id, live_only=True)


async def _after_write(request: Request, session_id: str, message: str | None, status: int) -> Response:
    if _is_htmx(request):
        return await _render_room(request, session_id, live_only=True, message=message)
    if message is None:
        return RedirectResponse(request.url_for("invigilator_room", session_id=session_id), status_code=303)
    return await _render_room(request, session_id, live_only=False, message=message, status=status)


@router.post("/{session_id}/candidats/{candidate_id}/{action}", name="invigilator_act")
async def act(request: Request, session_id: str, candidate_id: str, action: str) -> Response:
    """One button of a candidate's row (confirm presence, test started, resume, end, finished)."""
    if action not in ACTIONS:
        return await _after_write(request, session_id, f"Action inconnue : {action}.", 404)
    method, segment = ACTIONS[action]
    path = (
        f"/invigilator/sessions/{session_id}/candidates/{urllib.parse.quote(candidate_id, safe='')}/{segment}"
    )
    try:
        await _backend(request).send(method, "finalisation", path, _token(request, session_id))
    except Refused as exc:
        if exc.code in SIGN_IN_AGAIN:
            return _signed_out(request, exc)
        return await _after_write(request, session_id, refusal(exc.code, exc.message), exc.status)
    return await _after_write(request, session_id, None, 200)


@router.post("/{session_id}/incidents", name="invigilator_incident")
async def record_incident(request: Request, session_id: str) -> Response:
    """An incident written down as it happens (the digital PV d'incident), for a candidate or the room."""
    form = await request.form()
    code = str(form.get("code", ""))
    candidate = str(form.get("candidate_id", "")) or None
    description = str(form.get("description", "")).strip() or None
    question = str(form.get("question_number", "")).strip()
    if code not in ISSUE_LABELS:
        message = "Choisissez le type d'incident."
    elif question and not question.isdigit():
        message = "Le numéro de question s'écrit en chiffres (de 1 à 500)."
    else:
        body = {
            "candidate_id": candidate,
            "code": code,
            "description": description,
            "question_number": int(question) if question else None,
        }
        try:
            path = f"/invigilator/sessions/{session_id}/incidents"
            await _backend(request).send("POST", "finalisation", path, _token(request, session_id), json=body)
        except Refused as exc:
            if exc.code in SIGN_IN_AGAIN:
                return _signed_out(request, exc)
            message = refusal(exc.code, exc.message)
        else:
            return RedirectResponse(
                f"{request.url_for('invigilator_room', session_id=session_id)}#incidents", status_code=303
            )
    return await _render_room(request, session_id, live_only=False, message=message, status=422)


@router.post("/deconnexion", name="invigilator_sign_out")
async def sign_out(request: Request) -> Response:
    request.session.pop(TOKENS_KEY, None)
    return RedirectResponse(request.url_for("invigilator_login"), status_code=303)
