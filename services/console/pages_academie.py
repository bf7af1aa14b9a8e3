"""Page 7, the académie operator's view: every school's Phase 3 progress, the sessions overdue for
finalisation, certifiability by school, and the services' dead letters and consumer lag.

Everything comes from the académie service's ``/academie/*`` API with the operator's token (it
decides who is an operator) and from each service's ``/metrics``; the console only sorts the table
and draws the chart (an SVG rendered here, with the same figures as a table beside it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.console.backend import Refused
from services.console.oidc import SignedIn
from services.console.operations import every_service
from services.console.pages import backend, page, signed_in

router = APIRouter()

#: the most schools one page shows (the académie API's own limit)
SCHOOLS_LIMIT = 1000
#: the table's sortable columns: the URL's ``tri`` → (header, the school's value to sort by)
COLUMNS: dict[str, tuple[str, Any]] = {
    "uai": ("UAI", lambda s: s["uai"]),
    "nom": ("Établissement", lambda s: s["name"].casefold()),
    "type": ("Type", lambda s: s["type_label"]),
    "etape": ("Étape en cours", None),  # by the steps' order, set per request from the summary
    "sessions": ("Sessions", lambda s: s["sessions"]),
    "finalisees": ("Finalisées", lambda s: s["finalised_sessions"]),
    "retard": ("En retard", lambda s: s["overdue_finalisations"]),
    "certifiabilite": ("Certifiabilité", lambda s: s["certifiability_rate"]),
}
CHART_WIDTH, BAR_HEIGHT, LABEL_WIDTH = 640, 28, 170


def sorted_schools(schools: list[dict], steps: list[str], key: str, descending: bool) -> list[dict]:
    """The schools by the chosen column (steps: from the first to ``done``), then by UAI; a school
    without a value (no learner, so no rate) comes last whichever the order."""
    order = {step: i for i, step in enumerate([*steps, "done"])}
    value = (lambda s: order.get(s["step"], -1)) if key == "etape" else COLUMNS[key][1]
    by_uai = sorted(schools, key=lambda s: s["uai"])
    known = [s for s in by_uai if value(s) is not None]
    return sorted(known, key=value, reverse=descending) + [s for s in by_uai if value(s) is None]


def chart(summary: dict[str, Any]) -> dict[str, Any]:
    """The bars of "schools that reached each step" (widths in the SVG's own units)."""
    total = max(summary["schools"], 1)
    span = CHART_WIDTH - LABEL_WIDTH - 60
    bars = [
        {
            "label": step["label"],
            "reached": step["reached"],
            "y": i * (BAR_HEIGHT + 8),
            "width": round(span * step["reached"] / total),
        }
        for i, step in enumerate(summary["steps"])
    ]
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": len(bars) * (BAR_HEIGHT + 8),
        "bar_height": BAR_HEIGHT,
        "label_width": LABEL_WIDTH,
    }


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f} %"


@router.get("/academie", response_class=HTMLResponse, name="academie")
async def academie(
    request: Request,
    tri: str = Query(default="etape"),
    ordre: str = Query(default="asc", pattern="^(asc|desc)$"),
    user: SignedIn = Depends(signed_in),
) -> Response:
    """The operator's dashboard (the académie service refuses anyone but an operator)."""
    api, token = backend(request), user.access_token
    key = tri if tri in COLUMNS else "etape"
    try:
        listed, summary, overdue = await asyncio.gather(
            api.json("academie", "/academie/schools", token, {"limit": SCHOOLS_LIMIT}),
            api.json("academie", "/academie/summary", token),
            api.json("academie", "/academie/overdue", token),
        )
    except Refused as exc:
        if exc.status not in (403, 404):  # the académie API answers 404 to anyone but an operator
            raise
        return page(
            request,
            "error.html",
            user,
            status=exc.status,
            title="Accès réservé",
            message="La vue académique est réservée aux opérateurs de l'académie.",
            code=exc.code,
        )
    steps = [s["step"] for s in summary["steps"]]
    return page(
        request,
        "academie.html",
        user,
        section="academie",
        listed=listed,
        schools=sorted_schools(listed["schools"], steps, key, ordre == "desc"),
        summary=summary,
        overdue=overdue,
        chart=chart(summary),
        operations=await every_service(api),
        columns={name: header for name, (header, _) in COLUMNS.items()},
        sort_key=key,
        descending=ordre == "desc",
        percent=percent,
    )
