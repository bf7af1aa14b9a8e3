"""HTTP of the export service.

Livret scolaire API, as Pix serves it to the Ministry (pix-domain.md §7.2):

* ``POST /api/application/token`` — OAuth2 client credentials, form-encoded; 401 for wrong
  credentials, 403 for a scope that is not allowed, with Pix's messages;
* ``GET /api/organizations/{uai}/certifications`` — ``Authorization: Bearer``; 403 for a UAI the
  client may not read; the body is byte for byte the school's livret file.

Refusals carry our error shape and, alongside, Pix's JSON:API ``errors`` list, so a client written
against Pix reads them too.

School routes (``API_TOKEN`` when set, like every service's school API): the class CSV and
attestations PDF (the files as last produced), the livret JSON, the LSU/LSL readiness checklist of a
class, and a forced rebuild of a school's files.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from services.export import store
from services.export.domain.auth import (
    INVALID_CREDENTIALS,
    INVALID_TOKEN,
    SCOPE_NOT_ALLOWED,
    UAI_NOT_ALLOWED,
    AuthError,
    ClientCredentials,
    authenticate_client,
    authorize_uai,
    hash_secret,
    issue_token,
    token_response,
    verify_token,
)
from services.export.domain.livret import build_livret_document, render_livret_json, serialise
from services.export.domain.readiness import class_readiness
from services.export.domain.selection import ExportIndex, normalise_uai
from services.export.rebuild import ATTESTATIONS, CLASS_RESULTS, LIVRET, rebuild_school, school_directory
from shared.http import ApiError, error_body, school_api_router
from shared.service import Runtime, get_runtime

router = APIRouter()  # the livret API: its own OAuth client credentials
schools = school_api_router()  # the school routes: API_TOKEN, when set

_UAI = re.compile(r"^[0-9]{7}[A-Z]$")
_AUTH_CODES = {
    INVALID_CREDENTIALS: "auth.invalid_client",
    SCOPE_NOT_ALLOWED: "auth.scope_not_allowed",
    INVALID_TOKEN: "auth.invalid_token",
    UAI_NOT_ALLOWED: "auth.uai_not_allowed",
}
_TITLES = {401: "Unauthorized", 403: "Forbidden"}
TOKEN_FIELDS = ("grant_type", "client_id", "client_secret", "scope")
EMPTY_LIVRET = serialise(build_livret_document([]))


# -- helpers -----------------------------------------------------------------------------------


def refusal(error: AuthError) -> JSONResponse:
    """An auth refusal in our error shape plus Pix's ``errors`` list."""
    body: dict[str, Any] = error_body(_AUTH_CODES.get(error.message, "auth.refused"), error.message)
    body["errors"] = [
        {"status": str(error.status), "title": _TITLES.get(error.status, "Error"), "detail": error.message}
    ]
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(body, status_code=error.status, headers=headers)


def school_uai(uai: str) -> str:
    """A UAI from a school route: 7 digits and a letter (any case)."""
    normalised = normalise_uai(uai)
    if not _UAI.match(normalised):
        raise ApiError(400, "uai.invalid", "a UAI is 7 digits followed by a letter", uai=uai)
    return normalised


def signing_key(runtime: Runtime) -> bytes:
    secret = runtime.settings.export_token_secret
    if secret is None:
        raise ApiError(503, "auth.not_configured", "the livret API has no token secret (EXPORT_TOKEN_SECRET)")
    return secret.get_secret_value().encode("utf-8")


async def api_clients(runtime: Runtime) -> dict[str, ClientCredentials]:
    """Clients from ``EXPORT_API_CLIENTS``; clear secrets are hashed once, off the event loop."""
    clients = runtime.state.get("api_clients")
    if clients is None:

        def load() -> dict[str, ClientCredentials]:
            return {
                c.client_id: ClientCredentials(
                    client_id=c.client_id,
                    secret_hash=c.secret_hash or hash_secret(c.secret.get_secret_value()),
                    scopes=frozenset(c.scopes),
                    uais=frozenset(normalise_uai(u) for u in c.uais),
                )
                for c in runtime.settings.export_api_clients
            }

        clients = runtime.state["api_clients"] = await asyncio.to_thread(load)
    return clients


def output_dir(runtime: Runtime) -> Path:
    return Path(runtime.settings.export_output_dir)


async def read_recorded(runtime: Runtime, record: store.ExportRecord) -> bytes | None:
    """The bytes of a produced file as they are on disk (None when the file is gone)."""
    path = school_directory(output_dir(runtime), record.uai) / record.file_name
    try:
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        return None


async def recorded_file(
    runtime: Runtime, uai: str, kind: str, division: str = ""
) -> tuple[str, bytes] | None:
    """The last file produced of this kind, as it is on disk (None when none or gone)."""
    record = await store.export_of(runtime.pool, uai, kind, division)
    if record is None:
        return None
    content = await read_recorded(runtime, record)
    return None if content is None else (record.file_name, content)


async def livret_bytes(runtime: Runtime, uai: str) -> tuple[str | None, bytes]:
    """The school's livret file as last produced. Before the first one, an empty list and the
    referential (what Pix answers for a school without certification): never results that the
    class files do not show yet (the same rebuild produces both). A produced file missing from
    disk is rendered from the read model until a rebuild restores it."""
    record = await store.export_of(runtime.pool, uai, LIVRET)
    if record is None:
        return None, EMPTY_LIVRET
    content = await read_recorded(runtime, record)
    if content is not None:
        return record.file_name, content
    async with runtime.pool.acquire() as conn:
        snapshot = await store.load_school(conn, uai)
    index = ExportIndex(snapshot.learners, snapshot.candidates, snapshot.results)
    return None, render_livret_json(index, uai)


def attachment(file_name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name)}"}


async def index_of_school(runtime: Runtime, uai: str) -> tuple[ExportIndex, set[str]]:
    async with runtime.pool.acquire() as conn:
        snapshot = await store.load_school(conn, uai)
        awaiting = await store.learners_awaiting_results(conn, uai)
    return ExportIndex(snapshot.learners, snapshot.candidates, snapshot.results), awaiting


async def class_file(runtime: Runtime, uai: str, division: str, kind: str) -> tuple[str, bytes]:
    found = await recorded_file(runtime, uai, kind, division)
    if found is not None:
        return found
    index, _ = await index_of_school(runtime, uai)
    if not index.class_learners(uai, division):
        raise ApiError(
            404, "class.not_found", "no learner of this school is in this class", uai=uai, division=division
        )
    raise ApiError(
        404,
        "export.no_results",
        "no published certification to export for this class yet",
        uai=uai,
        division=division,
    )


# -- livret scolaire API (Pix-compatible) ------------------------------------------------------


@router.post("/api/application/token", tags=["livret API"])
async def issue_livret_token(request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    """OAuth2 client credentials → ``{token_type, access_token, client_id}`` (4-hour token)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise ApiError(415, "request.unsupported_media_type", "send application/x-www-form-urlencoded")
    try:
        form = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise ApiError(400, "request.invalid", "the form is not UTF-8") from None
    fields = {name: values[0] for name, values in form.items()}
    missing = [name for name in TOKEN_FIELDS if not fields.get(name)]
    if missing:
        raise ApiError(400, "request.invalid", "missing form fields", missing=missing)
    if fields["grant_type"] != "client_credentials":
        raise ApiError(400, "auth.unsupported_grant_type", "grant_type must be client_credentials")
    key = signing_key(runtime)
    clients = await api_clients(runtime)
    try:
        client = await asyncio.to_thread(
            authenticate_client, clients, fields["client_id"], fields["client_secret"], fields["scope"]
        )
    except AuthError as error:
        return refusal(error)
    token = issue_token(client, fields["scope"], key=key, now=runtime.clock.now())
    return JSONResponse(token_response(client, token))


@router.get("/api/organizations/{uai}/certifications", tags=["livret API"])
async def livret_certifications(
    uai: str, request: Request, runtime: Runtime = Depends(get_runtime)
) -> Response:
    """The school's livret (``certificationsResults``) for a client allowed to read this UAI."""
    key = signing_key(runtime)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, INVALID_TOKEN)
        claims = verify_token(token.strip(), key=key, now=runtime.clock.now())
        authorize_uai(claims, uai, await api_clients(runtime))
    except AuthError as error:
        return refusal(error)
    _, content = await livret_bytes(runtime, normalise_uai(uai))
    return Response(content, media_type="application/json")


# -- school routes -----------------------------------------------------------------------------


@schools.get("/schools/{uai}/livret.json", tags=["exports"])
async def school_livret(uai: str, runtime: Runtime = Depends(get_runtime)) -> Response:
    """The school's livret file (the same bytes the livret API answers)."""
    uai = school_uai(uai)
    file_name, content = await livret_bytes(runtime, uai)
    return Response(
        content, media_type="application/json", headers=attachment(file_name) if file_name else None
    )


@schools.get("/schools/{uai}/classes/{division}/results.csv", tags=["exports"])
async def class_results_csv(uai: str, division: str, runtime: Runtime = Depends(get_runtime)) -> Response:
    """The class results CSV (Pix Orga format) as last produced."""
    file_name, content = await class_file(runtime, school_uai(uai), division, CLASS_RESULTS)
    return Response(content, media_type="text/csv; charset=utf-8", headers=attachment(file_name))


@schools.get("/schools/{uai}/classes/{division}/attestations.pdf", tags=["exports"])
async def class_attestations_pdf(
    uai: str, division: str, runtime: Runtime = Depends(get_runtime)
) -> Response:
    """The class attestations PDF (one page per validated certificate) as last produced."""
    file_name, content = await class_file(runtime, school_uai(uai), division, ATTESTATIONS)
    return Response(content, media_type="application/pdf", headers=attachment(file_name))


@schools.get("/schools/{uai}/classes/{division}/readiness", tags=["exports"])
async def class_readiness_checklist(uai: str, division: str, runtime: Runtime = Depends(get_runtime)) -> dict:
    """Whether the class can go to LSU/LSL, and otherwise who blocks it and why."""
    uai = school_uai(uai)
    index, awaiting = await index_of_school(runtime, uai)
    if not index.class_learners(uai, division):
        raise ApiError(
            404, "class.not_found", "no learner of this school is in this class", uai=uai, division=division
        )
    readiness = class_readiness(index, uai, division, awaiting)
    return {
        "uai": readiness.uai,
        "division": readiness.division,
        "ready": readiness.ready,
        "active_learners": readiness.active_learners,
        "blockers": [
            {
                "learner_id": b.learner_id,
                "last_name": b.last_name,
                "first_name": b.first_name,
                "kind": b.kind.value,
            }
            for b in readiness.blockers
        ],
    }


@schools.get("/schools/{uai}/exports", tags=["exports"])
async def school_exports(uai: str, runtime: Runtime = Depends(get_runtime)) -> dict:
    """The last file of each kind (and class) produced for the school."""
    uai = school_uai(uai)
    records = await store.exports_of(runtime.pool, uai)
    return {
        "uai": uai,
        "files": [
            {
                "kind": r.kind,
                "division": r.division or None,
                "file_name": r.file_name,
                "sha256": r.sha256,
                "items": r.items,
                "produced_at": r.produced_at.isoformat(),
            }
            for r in records
        ],
    }


@schools.post("/schools/{uai}/exports", tags=["exports"])
async def rebuild_school_exports(uai: str, runtime: Runtime = Depends(get_runtime)) -> dict:
    """Rebuild every file of the school now; unchanged files are not rewritten nor announced."""
    uai = school_uai(uai)
    async with runtime.unit_of_work() as uow:
        report = await rebuild_school(uow, uai, output_dir=output_dir(runtime), now=runtime.clock.now())
    return {"uai": uai, "changed": report.changed, "files": report.files, "removed": report.removed}


router.include_router(schools)
