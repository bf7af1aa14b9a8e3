"""Page 3, Planning: the school's rooms, workstations and staff availability; the scheduler's
proposed plan as a week view of half-days × rooms (or why there is none); its confirmation; and a
session's Modifier form (the fields the scheduler's PATCH lets one change).

Everything goes through the scheduler's API with the signed-in person's token; what it refuses
(an impossible or stale plan, a room too small…) is shown in its own words.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.backend import Refused
from services.console.oidc import SignedIn
from services.console.pages import backend, page, signed_in
from services.console.plan_view import HALF_DAY_NAMES, plan_weeks
from services.console.resources_form import read_resources_form, typed_rows

router = APIRouter()

#: the weekdays of the scheduler's opening hours, in French
WEEKDAYS = {
    "monday": "lundi",
    "tuesday": "mardi",
    "wednesday": "mercredi",
    "thursday": "jeudi",
    "friday": "vendredi",
    "saturday": "samedi",
    "sunday": "dimanche",
}
#: what a plan's status means to the school
PLAN_STATUSES = {"proposed": "Proposé", "impossible": "Impossible", "confirmed": "Confirmé"}
#: the fields of a session its Modifier form may change (the scheduler's SessionPatch)
EDITABLE = ("room", "invigilators", "date", "time", "site", "observations")
#: the school's fields the scheduler's PUT takes (its GET adds the UAI, classes, updated_at)
SCHOOL_FIELDS = ("name", "level", "city", "site", "rooms", "staff", "hours")
#: empty rows the rooms-and-staff form offers for new ones
BLANK_ROWS = 2


#: the scheduler's body fields in the forms' words, to say which one a ``request.invalid`` names
FIELD_LABELS = {
    "room": "Salle",
    "invigilators": "Surveillant(s)",
    "date": "Date",
    "time": "Heure",
    "site": "Nom du site",
    "observations": "Observations",
    "not_before": "Pas avant le",
    "divisions": "Classes à certifier",
    "rooms": "Salles",
    "staff": "Surveillants",
}


def explained(exc: Refused) -> Refused:
    """The refusal as the page shows it: a request the scheduler could not read names its fields."""
    if exc.code != "request.invalid":
        return exc
    paths = [str(p.get("field", "")).split(".") for p in exc.details.get("problems", [])]
    labels = list(dict.fromkeys(FIELD_LABELS[p[1]] for p in paths if len(p) > 1 and p[1] in FIELD_LABELS))
    if not labels:
        return Refused(
            exc.service, exc.status, exc.code, "Le service n'a pas pu lire la demande.", exc.details
        )
    return Refused(
        exc.service, exc.status, exc.code, f"Valeur non valide : {', '.join(labels)}.", exc.details
    )


def _school_path(uai: str, tail: str = "") -> str:
    return f"/schools/{urllib.parse.quote(uai, safe='')}{tail}"


async def _planning_page(
    request: Request, uai: str, user: SignedIn, status: int = 200, **context: Any
) -> Response:
    api, token = backend(request), user.access_token
    school, checklist = await asyncio.gather(
        api.json("scheduler", _school_path(uai), token),
        api.json("scheduler", _school_path(uai, "/checklist"), token),
    )
    return page(
        request,
        "planning.html",
        user,
        status=status,
        section="planning",
        uai=school["uai"],
        school=school,
        checklist=checklist,
        weekdays=WEEKDAYS,
        half_days=HALF_DAY_NAMES,
        **context,
    )


@router.get("/etablissements/{uai}/planification", response_class=HTMLResponse, name="planning")
async def planning(request: Request, uai: str, user: SignedIn = Depends(signed_in)) -> Response:
    """Rooms, workstations, staff availability, opening hours; the form asking for a plan."""
    return await _planning_page(request, uai, user)


@router.post("/etablissements/{uai}/planification", name="propose_plan")
async def propose_plan(
    request: Request,
    uai: str,
    divisions: list[str] = Form(default=[]),
    not_before: str = Form(default=""),
    catch_up: bool = Form(default=False),
    user: SignedIn = Depends(signed_in),
) -> Response:
    """Ask the scheduler for a plan (nothing is created yet), then show it."""
    body: dict[str, Any] = {"catch_up": catch_up}
    if divisions:
        body["divisions"] = divisions
    if not_before:
        body["not_before"] = not_before
    try:
        plan = await backend(request).send(
            "POST", "scheduler", _school_path(uai, "/plans"), user.access_token, json=body
        )
    except Refused as exc:
        if exc.status not in (409, 422):
            raise
        return await _planning_page(request, uai, user, status=exc.status, refused=explained(exc))
    return RedirectResponse(request.url_for("plan", plan_id=plan["plan_id"]), status_code=303)


async def _plan_page(
    request: Request, plan_id: uuid.UUID, user: SignedIn, status: int = 200, **context: Any
) -> Response:
    api, token = backend(request), user.access_token
    plan = await api.json("scheduler", f"/plans/{plan_id}", token)
    school = await api.json("scheduler", _school_path(plan["uai"]), token)
    rooms, weeks = plan_weeks(
        plan["sessions"], [r["name"] for r in school["rooms"]], school["hours"]["open_half_days"]
    )
    return page(
        request,
        "plan.html",
        user,
        status=status,
        section="planning",
        uai=plan["uai"],
        plan=plan,
        rooms=rooms,
        weeks=weeks,
        plan_statuses=PLAN_STATUSES,
        **context,
    )


@router.get("/planifications/{plan_id}", response_class=HTMLResponse, name="plan")
async def plan(request: Request, plan_id: uuid.UUID, user: SignedIn = Depends(signed_in)) -> Response:
    """The proposal as weeks of half-days × rooms, its notes, or the explanation of why none exists."""
    return await _plan_page(request, plan_id, user)


@router.post("/planifications/{plan_id}/confirmer", name="confirm_plan")
async def confirm_plan(request: Request, plan_id: uuid.UUID, user: SignedIn = Depends(signed_in)) -> Response:
    """Create every proposed session (the scheduler does it in one transaction, or nothing)."""
    try:
        await backend(request).send("POST", "scheduler", f"/plans/{plan_id}/confirm", user.access_token)
    except Refused as exc:
        if exc.status not in (409, 422):
            raise
        return await _plan_page(request, plan_id, user, status=exc.status, refused=explained(exc))
    return RedirectResponse(request.url_for("plan", plan_id=plan_id), status_code=303)


# -- the school's rooms and staff ---------------------------------------------------------------


def _resources_page(
    request: Request,
    school: dict[str, Any],
    user: SignedIn,
    rooms: list[dict[str, str]],
    staff: list[dict[str, str]],
    status: int = 200,
    **context: Any,
) -> Response:
    blank_room = {"name": "", "workstations": "", "site": ""}
    return page(
        request,
        "planning_resources.html",
        user,
        status=status,
        section="planning",
        uai=school["uai"],
        school=school,
        rooms=[*rooms, *([blank_room] * BLANK_ROWS)],
        staff=[*staff, *([{"name": "", "availability": ""}] * BLANK_ROWS)],
        **context,
    )


@router.get(
    "/etablissements/{uai}/planification/salles-et-surveillants",
    response_class=HTMLResponse,
    name="planning_resources",
)
async def planning_resources(request: Request, uai: str, user: SignedIn = Depends(signed_in)) -> Response:
    """The school's rooms (workstations, site) and staff (availability), to change before planning."""
    school = await backend(request).json("scheduler", _school_path(uai), user.access_token)
    rooms, staff = typed_rows(school)
    return _resources_page(request, school, user, rooms, staff)


@router.post("/etablissements/{uai}/planification/salles-et-surveillants", name="planning_resources_save")
async def planning_resources_save(
    request: Request,
    uai: str,
    room_name: list[str] = Form(default=[]),
    room_workstations: list[str] = Form(default=[]),
    room_site: list[str] = Form(default=[]),
    staff_name: list[str] = Form(default=[]),
    staff_availability: list[str] = Form(default=[]),
    user: SignedIn = Depends(signed_in),
) -> Response:
    """Replace the school's rooms and staff (the scheduler's PUT, its other fields as they are)."""
    api, token = backend(request), user.access_token
    school = await api.json("scheduler", _school_path(uai), token)
    form = read_resources_form(room_name, room_workstations, room_site, staff_name, staff_availability)
    if form.errors:
        return _resources_page(request, school, user, form.rooms, form.staff, status=422, errors=form.errors)
    rooms, staff = form.body()
    body = {key: school[key] for key in SCHOOL_FIELDS} | {"rooms": rooms, "staff": staff}
    try:
        await api.send("PUT", "scheduler", _school_path(uai), token, json=body)
    except Refused as exc:
        if exc.status not in (409, 422):
            raise
        return _resources_page(
            request, school, user, form.rooms, form.staff, status=exc.status, refused=explained(exc)
        )
    return RedirectResponse(request.url_for("planning", uai=uai), status_code=303)


# -- a session's Modifier form ------------------------------------------------------------------


async def _edit_page(
    request: Request,
    session_id: uuid.UUID,
    user: SignedIn,
    status: int = 200,
    values: dict[str, Any] | None = None,
    **context: Any,
) -> Response:
    api, token = backend(request), user.access_token
    found = await api.json("scheduler", f"/sessions/{session_id}", token)
    school = await api.json("scheduler", _school_path(found["uai"]), token)
    return page(
        request,
        "session_edit.html",
        user,
        status=status,
        section="sessions",
        uai=found["uai"],
        session=found,
        school=school,
        values=values or {key: found[key] for key in EDITABLE},
        **context,
    )


@router.get("/sessions/{session_id}/modifier", response_class=HTMLResponse, name="session_edit")
async def session_edit(
    request: Request, session_id: uuid.UUID, user: SignedIn = Depends(signed_in)
) -> Response:
    return await _edit_page(request, session_id, user)


@router.post("/sessions/{session_id}/modifier", name="session_save")
async def session_save(
    request: Request,
    session_id: uuid.UUID,
    room: str = Form(max_length=100),
    invigilators: list[str] = Form(default=[]),
    date: str = Form(max_length=10, description="YYYY-MM-DD; the scheduler reads and checks it"),
    time: str = Form(max_length=5),
    site: str = Form(default="", max_length=200),
    observations: str = Form(default="", max_length=2000),
    user: SignedIn = Depends(signed_in),
) -> Response:
    """Send the scheduler only what changed (PATCH); refused → the form again with its reason."""
    api, token = backend(request), user.access_token
    current = await api.json("scheduler", f"/sessions/{session_id}", token)
    values = {
        "room": room,
        "invigilators": invigilators,
        "date": date,
        "time": time,
        "site": site,
        "observations": observations,
    }
    changed = {key: value for key, value in values.items() if value != current[key]}
    if changed:
        try:
            await api.send("PATCH", "scheduler", f"/sessions/{session_id}", token, json=changed)
        except Refused as exc:
            if exc.status not in (409, 422):
                raise
            return await _edit_page(
                request, session_id, user, status=exc.status, values=values, refused=explained(exc)
            )
    return RedirectResponse(request.url_for("session", session_id=session_id), status_code=303)
