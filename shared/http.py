"""HTTP errors every service answers the same way: a status, a machine-readable code, a message.

Body: ``{"error": {"code": "session.outside_window", "message": "…", "details": {…}}}``. Use cases
raise ``shared.errors.DomainError``; the handler installed here gives it the status the service's
``{code: status}`` table names (``ServiceDefinition.error_statuses``). ``ApiError`` is for the HTTP
layer alone (a missing multipart part, a token), where the status is HTTP's own business.

The school API (every route a school's staff reach through the académie's portal or gateway) is
built on ``school_api_router()``: each of its routes needs ``Authorization: Bearer <token>`` — an
access token of the académie's provider (``OIDC_ISSUER``, see shared.auth) or a trusted gateway's
``API_TOKEN`` — checked before the request body is read, then serves only a principal of the school
the route names (404 otherwise). The académie-wide routes (the operator's view) are built on
``operator_api_router()``: the same check, for operators only. With neither configured the API is
open (local runs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr

from shared.auth import InvalidToken, Principal, TokenVerifier, gateway_principal
from shared.errors import DomainError, status_for

log = structlog.get_logger("certibus.auth")


class ApiError(Exception):
    #: extra response headers (``WWW-Authenticate`` of a 401)
    headers: dict[str, str] | None = None

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


class Unauthenticated(ApiError):
    """401 with the ``WWW-Authenticate: Bearer`` challenge RFC 6750 asks for."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(401, code, message)
        error = ', error="invalid_token"' if code == "auth.invalid_token" else ""
        self.headers = {"WWW-Authenticate": f'Bearer realm="certibus"{error}'}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx answer certibus writes."""

    error: ErrorDetail


def error_responses(statuses: Mapping[str, int], *codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route that may refuse with ``codes``: one entry per status."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(status_for(code, statuses), []).append(code)
    return {
        status: {"model": ErrorBody, "description": "refused, nothing changed: " + ", ".join(sorted(c))}
        for status, c in sorted(by_status.items())
    }


def install_error_handlers(app: FastAPI, statuses: Mapping[str, int] | None = None) -> None:
    """``ApiError``, ``DomainError`` (status from ``statuses``) and request validation, one body each."""
    table = dict(statuses or {})

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, jsonable_encoder(exc.details)),
            status_code=status_for(exc.code, table),
        )

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return JSONResponse(
            error_body("request.invalid", "the request does not match the API", {"problems": problems}),
            status_code=422,
        )


# ---- the school API: who may call which route -----------------------------------------------

#: a route's lookup of the school its resource belongs to: (request, path value) → UAI, None if unknown
UaiLookup = Callable[[Request, str], Awaitable[str | None]]
#: who the school routes serve by default; the results intake adds "pix"
SCHOOL_ROLES = frozenset({"staff", "referent", "operator"})
#: who the académie-wide routes serve
OPERATOR_ROLES = frozenset({"operator"})
NOT_FOUND = "auth.not_found"


async def authenticate(request: Request) -> Principal | None:
    """The caller's ``Principal`` (401 without a valid token); None when the service accepts none (open).

    ``create_app`` puts the gateway tokens (``settings.api_tokens()``) in ``app.state.api_tokens``
    and the OIDC verifier (or None) in ``app.state.token_verifier``.
    """
    accepted: tuple[SecretStr, ...] = request.app.state.api_tokens
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if not accepted and verifier is None:
        return None
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise Unauthenticated("auth.missing_token", "this endpoint needs Authorization: Bearer <token>")
    gateway = gateway_principal(given, accepted)
    if gateway is not None:
        return gateway
    if verifier is not None:
        try:
            return await verifier.verify(given)
        except InvalidToken as exc:
            log.info("bearer token refused", route=request.scope.get("path"), reason=str(exc))
    raise Unauthenticated("auth.invalid_token", "the bearer token is not valid")


async def authorise(
    request: Request, principal: Principal, roles: frozenset[str], lookups: Mapping[str, UaiLookup]
) -> None:
    """404 unless the principal may act for the school the route names (or its resource belongs to).

    A 404 (not a 403) whether the resource is another school's or does not exist: a refusal tells
    nothing about what exists. Logged with who and which route, without personal data.
    """
    params = request.path_params
    uai: str | None = params.get("uai")
    if uai is None:
        for name, lookup in lookups.items():
            if name in params:
                uai = await lookup(request, str(params[name]))
                break
    if principal.may_act_for(uai, roles):
        return
    route = request.scope.get("route")
    log.warning(
        "school route refused",
        subject=principal.subject,
        client=principal.client,
        roles=sorted(principal.roles),
        method=request.method,
        route=getattr(route, "path", None),
    )
    raise ApiError(404, NOT_FOUND, "nothing here for this sign-in")


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="API token",
    description="an access token of the académie's OpenID Connect provider (OIDC_ISSUER), or the"
    " API_TOKEN of a trusted gateway",
)


def require_api_token(
    _request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """Declares the bearer token in the OpenAPI; ``SchoolRoute`` checks it before the body is read.

    FastAPI reads a route's body before it solves dependencies: the check cannot live here.
    """


def current_principal(request: Request) -> Principal | None:
    """FastAPI dependency: who is calling a school route (None when the API is open)."""
    return getattr(request.state, "principal", None)


class ApiTokenRoute(APIRoute):
    """A school route: authenticates, then authorises by school, before its body is read or parsed."""

    roles: frozenset[str] = SCHOOL_ROLES
    lookups: Mapping[str, UaiLookup] = {}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked_first(request: Request) -> Response:
            principal = await authenticate(request)
            request.state.principal = principal
            if principal is not None:
                await authorise(request, principal, self.roles, self.lookups)
            return await handler(request)

        return checked_first


def school_api_router(
    *,
    also_allowed: frozenset[str] = frozenset(),
    uai_of: Mapping[str, UaiLookup] | None = None,
    **kwargs: Any,
) -> APIRouter:
    """An ``APIRouter`` whose every route needs a principal of the school it names.

    Staff and referents of that UAI and operators pass, plus the roles in ``also_allowed`` (the
    results intake: ``pix``). Routes that name a session or plan instead of a UAI give
    ``uai_of={"session_id": lookup}``: the resource's school decides.
    """
    route_class = type(
        "SchoolRoute",
        (ApiTokenRoute,),
        {"roles": SCHOOL_ROLES | also_allowed, "lookups": dict(uai_of or {})},
    )
    responses = {
        401: {"description": UNAUTHENTICATED},
        404: {"description": NOT_YOURS},
        **kwargs.pop("responses", {}),
    }
    return APIRouter(
        route_class=route_class,
        dependencies=[Depends(require_api_token)],
        responses=responses,
        **kwargs,
    )


def operator_api_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` for the académie's own routes (no school in the path): operators only.

    Same bearer check as ``school_api_router`` — an OIDC token with the ``operator`` role, or a
    trusted gateway's ``API_TOKEN`` (which stands for an operator) — checked before the body is
    read; staff, referents and Pix clients get the 404 of a route that is not theirs.
    """
    route_class = type("OperatorRoute", (ApiTokenRoute,), {"roles": OPERATOR_ROLES, "lookups": {}})
    responses = {
        401: {"description": UNAUTHENTICATED},
        404: {"description": NOT_OPERATOR},
        **kwargs.pop("responses", {}),
    }
    return APIRouter(
        route_class=route_class,
        dependencies=[Depends(require_api_token)],
        responses=responses,
        **kwargs,
    )


UNAUTHENTICATED = (
    "no bearer token (auth.missing_token) or an invalid one (auth.invalid_token); nothing changed"
)
NOT_YOURS = "not found for this sign-in (auth.not_found: another school's, or absent); nothing changed"
NOT_OPERATOR = "not found for this sign-in (auth.not_found: operators only); nothing changed"
