"""HTTP of the export service.

Livret scolaire API, as Pix serves it to the Ministry (pix-domain.md §7.2):

* ``POST /api/application/token`` — OAuth2 client credentials, form-encoded; 401 for wrong
  credentials, 403 for a scope that is not allowed, with Pix's messages;
* ``GET /api/organizations/{uai}/certifications`` — ``Authorization: Bearer``; 403 for a UAI the
  client may not read; the body is byte for byte the school's livret file.

Refusals carry our error shape and, alongside, Pix's JSON:API ``errors`` list, so a client written
against Pix reads them too.

School routes (shared.http's school routers, like every service's): the class CSV and
attestations PDF (the files as last produced) and the livret JSON, for the school's staff and
referent; the LSU/LSL readiness checklist of a class, the list of files and a forced rebuild of a
school's files, for operators too.

Routes read the request and call a use case (services/export/usecases/); the use cases' refusal
codes get their status from ``ERRORS``, the table the service definition declares.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from services.export.domain.auth import (
    INVALID_CREDENTIALS,
    INVALID_TOKEN,
    SCOPE_NOT_ALLOWED,
    UAI_NOT_ALLOWED,
    AuthError,
    ClientCredentials,
    VerifiedSecrets,
)
from services.export.store import ExportStore, transactions
from services.export.usecases import exports, livret
from services.export.usecases.rebuild import ATTESTATIONS, CLASS_RESULTS
from shared.errors import statuses
from shared.http import ApiError, error_body, error_responses, school_api_router
from shared.service import Runtime, get_runtime

#: status of each refusal code of the use cases (others 422)
ERRORS = statuses(
    not_found={"class.not_found", "export.no_results"},
    other={"uai.invalid": 400, "auth.not_configured": 503},
)

router = APIRouter()  # the livret API: its own OAuth client credentials
#: the school routes that operate its files (readiness, what was produced, a rebuild): operators too
schools = school_api_router()
#: the files themselves (every student's results, attestations): the school's own people only
school_files = school_api_router(roles=frozenset({"staff", "referent"}))

_AUTH_CODES = {
    INVALID_CREDENTIALS: "auth.invalid_client",
    SCOPE_NOT_ALLOWED: "auth.scope_not_allowed",
    INVALID_TOKEN: "auth.invalid_token",
    UAI_NOT_ALLOWED: "auth.uai_not_allowed",
}
_TITLES = {401: "Unauthorized", 403: "Forbidden"}
TOKEN_FIELDS = ("grant_type", "client_id", "client_secret", "scope")
_LIVRET_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "wrong credentials or token (auth.invalid_client, auth.invalid_token)"},
    403: {"description": "scope or UAI not allowed (auth.scope_not_allowed, auth.uai_not_allowed)"},
}


# -- helpers -----------------------------------------------------------------------------------


def refusal(error: AuthError) -> JSONResponse:
    """An auth refusal in our error shape plus Pix's ``errors`` list."""
    body: dict[str, Any] = error_body(_AUTH_CODES.get(error.message, "auth.refused"), error.message)
    body["errors"] = [
        {"status": str(error.status), "title": _TITLES.get(error.status, "Error"), "detail": error.message}
    ]
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(body, status_code=error.status, headers=headers)


async def api_clients(runtime: Runtime) -> dict[str, ClientCredentials]:
    """Clients from ``EXPORT_API_CLIENTS``, loaded once per process (clear secrets hashed off the
    event loop). Once, even when the first token requests come together: each load hashes every
    clear secret with a new salt, and a new hash would also void the proven secrets."""
    async with runtime.state.setdefault("api_clients_loading", asyncio.Lock()):
        clients = runtime.state.get("api_clients")
        if clients is None:
            configs = runtime.settings.export_api_clients
            clients = runtime.state["api_clients"] = await asyncio.to_thread(livret.load_clients, configs)
    return clients


def _one_check_per_client(runtime: Runtime, client_id: str) -> asyncio.Lock:
    """Token requests of one client take turns: the first proves its secret (a PBKDF2 run), the
    ones that came with it find it proven instead of each hashing it again (32 schools asking at
    once cost 32 runs). Another client never waits for this one."""
    locks: dict[str, asyncio.Lock] = runtime.state.setdefault("token_checks", {})
    return locks.setdefault(client_id, asyncio.Lock())


def output_dir(runtime: Runtime) -> Path:
    return Path(runtime.settings.export_output_dir)


def _reads(runtime: Runtime) -> ExportStore:
    return ExportStore(runtime.pool)


def attachment(file_name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name)}"}


# -- livret scolaire API (Pix-compatible) ------------------------------------------------------


@router.post(
    "/api/application/token",
    tags=["livret API"],
    responses={**_LIVRET_REFUSALS, **error_responses(ERRORS, "auth.not_configured")},
)
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
    key = livret.signing_key(runtime.settings.export_token_secret)
    clients = await api_clients(runtime)
    try:
        async with _one_check_per_client(
            runtime, fields["client_id"] if fields["client_id"] in clients else ""
        ):
            answer = await livret.issue_client_token(
                clients,
                client_id=fields["client_id"],
                client_secret=fields["client_secret"],
                scope=fields["scope"],
                key=key,
                now=runtime.clock.now(),
                verified=_verified_secrets(runtime),
            )
    except AuthError as error:
        return refusal(error)
    return JSONResponse(answer)


def _verified_secrets(runtime: Runtime) -> VerifiedSecrets:
    """The secrets this process already proved right (a token request costs one PBKDF2 run per
    client and secret, not one per request)."""
    return runtime.state.setdefault("verified_secrets", VerifiedSecrets())


@router.get(
    "/api/organizations/{uai}/certifications",
    tags=["livret API"],
    responses={**_LIVRET_REFUSALS, **error_responses(ERRORS, "auth.not_configured")},
)
async def livret_certifications(
    uai: str, request: Request, runtime: Runtime = Depends(get_runtime)
) -> Response:
    """The school's livret (``certificationsResults``) for a client allowed to read this UAI."""
    key = livret.signing_key(runtime.settings.export_token_secret)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, INVALID_TOKEN)
        content = await livret.client_livret(
            _reads(runtime),
            output_dir(runtime),
            await api_clients(runtime),
            token=token.strip(),
            uai=uai,
            key=key,
            now=runtime.clock.now(),
        )
    except AuthError as error:
        return refusal(error)
    return Response(content, media_type="application/json")


# -- school routes -----------------------------------------------------------------------------


@school_files.get(
    "/schools/{uai}/livret.json", tags=["exports"], responses=error_responses(ERRORS, "uai.invalid")
)
async def school_livret(uai: str, runtime: Runtime = Depends(get_runtime)) -> Response:
    """The school's livret file (the same bytes the livret API answers)."""
    file_name, content = await exports.school_livret(_reads(runtime), output_dir(runtime), uai)
    return Response(
        content, media_type="application/json", headers=attachment(file_name) if file_name else None
    )


_CLASS_FILE_REFUSALS = error_responses(ERRORS, "uai.invalid", "class.not_found", "export.no_results")


@school_files.get(
    "/schools/{uai}/classes/{division}/results.csv", tags=["exports"], responses=_CLASS_FILE_REFUSALS
)
async def class_results_csv(uai: str, division: str, runtime: Runtime = Depends(get_runtime)) -> Response:
    """The class results CSV (Pix Orga format) as last produced."""
    file_name, content = await exports.class_file(
        _reads(runtime), output_dir(runtime), uai, division, CLASS_RESULTS
    )
    return Response(content, media_type="text/csv; charset=utf-8", headers=attachment(file_name))


@school_files.get(
    "/schools/{uai}/classes/{division}/attestations.pdf", tags=["exports"], responses=_CLASS_FILE_REFUSALS
)
async def class_attestations_pdf(
    uai: str, division: str, runtime: Runtime = Depends(get_runtime)
) -> Response:
    """The class attestations PDF (one page per validated certificate) as last produced."""
    file_name, content = await exports.class_file(
        _reads(runtime), output_dir(runtime), uai, division, ATTESTATIONS
    )
    return Response(content, media_type="application/pdf", headers=attachment(file_name))


@schools.get(
    "/schools/{uai}/classes/{division}/readiness",
    tags=["exports"],
    responses=error_responses(ERRORS, "uai.invalid", "class.not_found"),
)
async def class_readiness_checklist(uai: str, division: str, runtime: Runtime = Depends(get_runtime)) -> dict:
    """Whether the class can go to LSU/LSL, and otherwise who blocks it and why."""
    readiness = await exports.readiness(_reads(runtime), uai, division)
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


@schools.get("/schools/{uai}/exports", tags=["exports"], responses=error_responses(ERRORS, "uai.invalid"))
async def school_exports(uai: str, runtime: Runtime = Depends(get_runtime)) -> dict:
    """The last file of each kind (and class) produced for the school."""
    uai, records = await exports.school_exports(_reads(runtime), uai)
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


@schools.post("/schools/{uai}/exports", tags=["exports"], responses=error_responses(ERRORS, "uai.invalid"))
async def rebuild_school_exports(uai: str, runtime: Runtime = Depends(get_runtime)) -> dict:
    """Rebuild every file of the school now; unchanged files are not rewritten nor announced."""
    report = await exports.rebuild_now(
        transactions(runtime.unit_of_work), uai, output_dir=output_dir(runtime), now=runtime.clock.now()
    )
    return {"uai": report.uai, "changed": report.changed, "files": report.files, "removed": report.removed}


router.include_router(schools)
router.include_router(school_files)
