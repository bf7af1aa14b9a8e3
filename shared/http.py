"""HTTP errors every service answers the same way: a status, a machine-readable code, a message.

Body: ``{"error": {"code": "session.outside_window", "message": "…", "details": {…}}}``. Use cases
raise ``shared.errors.DomainError``; the handler installed here gives it the status the service's
``{code: status}`` table names (``ServiceDefinition.error_statuses``). ``ApiError`` is for the HTTP
layer alone (a missing multipart part, a token), where the status is HTTP's own business.

The school API (every route a school's staff reach through the académie's portal or gateway) is
built on ``school_api_router()``: with ``API_TOKEN`` set, each of its routes needs
``Authorization: Bearer <API_TOKEN>``, checked before the request body is read.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr

from shared.errors import DomainError, status_for


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


# ---- the school API's token -------------------------------------------------------------------


def check_api_token(request: Request) -> None:
    """Refuse (401) a request without one of the tokens the service accepts; accepting none: open.

    ``create_app`` puts the accepted tokens (``settings.api_tokens()``) in ``app.state.api_tokens``.
    """
    accepted: tuple[SecretStr, ...] = request.app.state.api_tokens
    if not accepted:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise Unauthenticated("auth.missing_token", "this endpoint needs Authorization: Bearer <API token>")
    # compare with every accepted token, each in constant time
    if not any(
        [hmac.compare_digest(given.encode(), token.get_secret_value().encode()) for token in accepted]
    ):
        raise Unauthenticated("auth.invalid_token", "the API token is not valid")


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="API token",
    description="API_TOKEN of the service (sent by the académie's portal or gateway)",
)


def require_api_token(
    request: Request, _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """FastAPI dependency: the request carries the API token (also declares it in the OpenAPI).

    FastAPI reads a route's body before it solves dependencies: routes that take a body get the
    check before reading it from ``ApiTokenRoute`` (``school_api_router`` sets both).
    """
    check_api_token(request)


class ApiTokenRoute(APIRoute):
    """A route that checks the API token first, before its body is read or parsed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked_first(request: Request) -> Response:
            check_api_token(request)
            return await handler(request)

        return checked_first


def school_api_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` whose every route requires the API token (``API_TOKEN``) when one is set."""
    responses = {401: {"description": UNAUTHENTICATED}, **kwargs.pop("responses", {})}
    return APIRouter(
        route_class=ApiTokenRoute,
        dependencies=[Depends(require_api_token)],
        responses=responses,
        **kwargs,
    )


UNAUTHENTICATED = "no API token (auth.missing_token) or another one (auth.invalid_token); nothing changed"
