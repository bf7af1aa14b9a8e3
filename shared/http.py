"""HTTP errors every service answers the same way: a status, a machine-readable code, a message.

Body: ``{"error": {"code": "session.outside_window", "message": "…", "details": {…}}}``. Use cases
raise ``shared.errors.DomainError``; the handler installed here gives it the status the service's
``{code: status}`` table names (``ServiceDefinition.error_statuses``). ``ApiError`` is for the HTTP
layer alone (a missing multipart part, a token), where the status is HTTP's own business.

The school API (every route a school's staff reach through the académie's portal or gateway) is
built on ``school_api_router()``: each of its routes needs ``Authorization: Bearer <token>`` — an
access token of the académie's provider (``OIDC_ISSUER``, see shared.auth) or a trusted gateway's
``API_TOKEN`` — checked before the request body is read, then serves only the roles its router was
given, for the school the route names or its resource belongs to (404 otherwise; the gateway passes
every route). The académie-wide routes (the operator's view) are built on
``operator_api_router()``: the same check, for operators only. With neither configured the API is
open (local runs).

``RequestMetrics`` counts and times every request by its route *template* (``/sessions/{session_id}``,
never the raw path: one series per route, not per session), method and status.
"""

from __future__ import annotations

import time
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import GATEWAY_ROLE, ROLES, InvalidToken, Principal, TokenVerifier, gateway_principal
from shared.errors import DomainError, status_for
from shared.metrics import ServiceMetrics

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


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """ASGI middleware: ``certibus_http_requests_total`` and the latency histogram of every request.

    The route is the template the router matched (it leaves it in the scope), ``unmatched`` for a
    path no route serves; an exception that escapes the app is counted as the 500 it becomes.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"  # no series per typo
            self.metrics.observe_request(method, route, status, time.perf_counter() - started)


# ---- the school API: who may call which route -----------------------------------------------

#: a route's lookup of the school its resource belongs to: (request, path value) → UAI, None if unknown
UaiLookup = Callable[[Request, str], Awaitable[str | None]]
#: who the school routes serve by default; the results intake adds "pix"
SCHOOL_ROLES = frozenset({"staff", "referent", "operator"})
#: the OpenAPI extension listing the roles a school route serves (README's table of routes and roles)
ROLES_EXTENSION = "x-certibus-roles"
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
            route = request.scope.get("route")
            log.info(
                "bearer token refused",
                method=request.method,
                route=getattr(route, "path", None),
                reason=str(exc),
            )
    raise Unauthenticated("auth.invalid_token", "the bearer token is not valid")


async def _school_of_resource(request: Request, lookups: Mapping[str, UaiLookup]) -> str | None:
    """The school of the resource the path (then the query) names, by the route's lookups."""
    for name, lookup in lookups.items():
        if not name.startswith("?") and name in request.path_params:
            return await lookup(request, str(request.path_params[name]))
    for name, lookup in lookups.items():
        value = request.query_params.get(name[1:]) if name.startswith("?") else None
        if value is not None:
            return await lookup(request, value)
    return None


async def query_uai(_request: Request, uai: str) -> str:
    """The lookup of a route whose query names the school itself (``?uai=``): ``{"?uai": query_uai}``."""
    return uai


async def authorise(
    request: Request, principal: Principal, roles: frozenset[str], lookups: Mapping[str, UaiLookup]
) -> None:
    """404 unless the principal may act for the school the route names (or its resource belongs to).

    A 404 (not a 403) whether the resource is another school's or does not exist: a refusal tells
    nothing about what exists. Logged with who and which route, without personal data. A lookup is
    found by its name among the path parameters, or, named ``?name``, in the query
    (``POST /results?uai=``); path lookups come first. The gateway (``API_TOKEN``) passes every route.
    """
    uai: str | None = request.path_params.get("uai")
    if uai is None:
        uai = await _school_of_resource(request, lookups)
    if principal.may_act_for(uai, roles | {GATEWAY_ROLE}):
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


async def require_api_token(
    _request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """Declares the bearer token in the OpenAPI; ``SchoolRoute`` checks it before the body is read.

    FastAPI reads a route's body before it solves dependencies: the check cannot live here.
    """


def principal_of(request: Request) -> Principal | None:
    """Who is calling a school route (None when the API is open), for code that holds the request."""
    return getattr(request.state, "principal", None)


async def current_principal(request: Request) -> Principal | None:
    """FastAPI dependency: who is calling a school route (``async``: a plain ``def`` dependency
    would run in a worker thread on every request)."""
    return principal_of(request)


class ApiTokenRoute(APIRoute):
    """A school route: authenticates, then authorises by school, before its body is read or parsed."""

    roles: frozenset[str] = SCHOOL_ROLES
    lookups: Mapping[str, UaiLookup] = {}

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        extra = dict(kwargs.pop("openapi_extra", None) or {})
        extra[ROLES_EXTENSION] = sorted(self.roles)
        super().__init__(path, endpoint, openapi_extra=extra, **kwargs)

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
    roles: frozenset[str] = SCHOOL_ROLES,
    also_allowed: frozenset[str] = frozenset(),
    uai_of: Mapping[str, UaiLookup] | None = None,
    **kwargs: Any,
) -> APIRouter:
    """An ``APIRouter`` whose every route needs a principal of the school it names.

    ``roles`` pass (staff and referents of that UAI, operators for every school, by default), plus
    those in ``also_allowed`` (the results intake: ``pix``), plus the gateway always. Routes that
    name a session or plan instead of a UAI give ``uai_of={"session_id": lookup}``: the resource's
    school decides. Each route lists its roles in the OpenAPI (``x-certibus-roles``).
    """
    unknown = (roles | also_allowed) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}: the roles are {sorted(ROLES)}")
    route_class = type(
        "SchoolRoute",
        (ApiTokenRoute,),
        {"roles": roles | also_allowed, "lookups": dict(uai_of or {})},
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
