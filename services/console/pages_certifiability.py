"""Page 2, Certifiability: per class, who is certifiable and what the others lack; the one-month
remediation list; the roster and campaign-export uploads with the file's line-numbered errors.

Everything comes from the eligibility service's API with the signed-in person's token; a refused
file is shown as the service refused it (file, line, column, rule, message), next to its form.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.console.backend import Backend, Refused
from services.console.oidc import SignedIn
from services.console.pages import backend, page, signed_in
from shared.contracts.referential import COMPETENCES

router = APIRouter()

#: the two files a school sends eligibility: the console's URL segment → eligibility's route
UPLOADS = {"liste-eleves": "/rosters", "export-campagne": "/campaign-exports"}
#: the largest file the console sends on (eligibility has its own limit, 50 Mo by default, and
#: refuses past it); a longer one is refused here, never sent cut short
MAX_FORWARDED_BYTES = 64 * 1024 * 1024
#: competence id → its name in the Pix framework, to say what a student still has to position
COMPETENCE_NAMES = {c.id: c.name for c in COMPETENCES}
#: eligibility's statuses in the school's words
STATUSES = {
    "certifiable": "Certifiable",
    "not_certifiable": "Non certifiable",
    "unknown": "Profil non partagé",
}
#: the key of the last upload's report in the session (shown once, after the redirect)
FLASH = "certifiability_flash"


def _school_path(uai: str, tail: str) -> str:
    return f"/schools/{urllib.parse.quote(uai, safe='')}{tail}"


async def _not_certifiable(api: Backend, token: str, uai: str, division: str) -> list[dict[str, Any]]:
    """The students of one class who are not (or not yet known to be) certifiable."""
    path = _school_path(uai, f"/classes/{urllib.parse.quote(division, safe='')}/certifiability")
    found = await api.json("eligibility", path, token)
    return [s for s in found["students"] if s["status"] != "certifiable"]


async def _certifiability_page(
    request: Request, uai: str, user: SignedIn, status: int = 200, **context: Any
) -> Response:
    api, token = backend(request), user.access_token
    school, remediations = await asyncio.gather(
        api.json("eligibility", _school_path(uai, "/certifiability"), token),
        api.json("eligibility", _school_path(uai, "/remediations"), token),
    )
    lacking = await asyncio.gather(
        *(_not_certifiable(api, token, uai, c["division"]) for c in school["classes"])
    )
    return page(
        request,
        "certifiability.html",
        user,
        status=status,
        section="certifiability",
        uai=school["uai"],
        school=school,
        lacking=dict(zip((c["division"] for c in school["classes"]), lacking, strict=True)),
        remediations=remediations,
        statuses=STATUSES,
        competence_names=COMPETENCE_NAMES,
        flash=request.session.pop(FLASH, None),
        **context,
    )


@router.get("/etablissements/{uai}/certificabilite", response_class=HTMLResponse, name="certifiability")
async def certifiability(request: Request, uai: str, user: SignedIn = Depends(signed_in)) -> Response:
    """Counts per class, the students not certifiable and what they lack, the remediation list."""
    return await _certifiability_page(request, uai, user)


def _summary(kind: str, report: dict[str, Any]) -> str:
    """What an accepted file changed, in one French sentence."""
    if kind == "liste-eleves":
        return (
            f"{report['total']} élève(s) lu(s) : {report['registered']} ajouté(s), {report['updated']}"
            f" mis à jour, {report['class_changes']} changement(s) de classe, {report['deactivated']}"
            f" sorti(s), {report['reactivated']} réintégré(s), {report['unchanged']} inchangé(s)."
        )
    unmatched = len(report["unmatched"]) + len(report["ambiguous"])
    return (
        f"{report['rows']} ligne(s) lue(s) : {report['matched']} élève(s) reconnu(s),"
        f" {unmatched} ligne(s) sans élève certain dans la liste."
    )


async def _refused_upload(
    request: Request,
    uai: str,
    user: SignedIn,
    kind: str,
    message: str,
    file_name: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    """The page again (422), the refusal and each of the file's errors beside the ``kind`` form."""
    refused = {kind: {"message": message, "file": file_name, "errors": errors or []}}
    return await _certifiability_page(request, uai, user, status=422, refused=refused)


@router.post("/etablissements/{uai}/certificabilite/{kind}", name="certifiability_upload")
async def certifiability_upload(
    request: Request,
    uai: str,
    kind: str,
    external_id_column: str = Form(default="", max_length=200),
    user: SignedIn = Depends(signed_in),
) -> Response:
    """Send the file to eligibility: accepted → back to the page with what changed; refused → the
    page again (422) with the service's errors next to this file's form."""
    if kind not in UPLOADS:
        raise Refused("console", 404, "upload.unknown", "no such upload form")
    path = UPLOADS[kind]
    # read from the form itself: a browser sends an empty file field as a part without a file name
    file = (await request.form()).get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return await _refused_upload(request, uai, user, kind, "Choisissez un fichier à envoyer.")
    data = await file.read(MAX_FORWARDED_BYTES + 1)
    if len(data) > MAX_FORWARDED_BYTES:
        too_large = (
            f"Fichier de plus de {MAX_FORWARDED_BYTES / 1_048_576:g} Mo : c'est la limite de la console."
        )
        return await _refused_upload(request, uai, user, kind, too_large, file.filename)
    params = (
        {"external_id_column": external_id_column}
        if kind == "export-campagne" and external_id_column
        else None
    )
    try:
        report = await backend(request).send(
            "POST",
            "eligibility",
            _school_path(uai, path),
            user.access_token,
            params=params,
            upload=(file.filename, data),
        )
    except Refused as exc:
        if exc.status not in (400, 413, 422):
            raise
        errors = exc.details.get("errors", [])
        return await _refused_upload(request, uai, user, kind, exc.message, file.filename, errors)
    request.session[FLASH] = {"kind": kind, "file": file.filename, "summary": _summary(kind, report)}
    return RedirectResponse(request.url_for("certifiability", uai=uai), status_code=303)
