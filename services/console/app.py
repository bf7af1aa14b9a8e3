"""The console's composition root: settings, assets, sign-in, the services' client, the pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from services.console import (
    pages,
    pages_academie,
    pages_certifiability,
    pages_finalisation,
    pages_invigilation,
    pages_planning,
)
from services.console.backend import Backend, Refused, ServiceUnavailable
from services.console.oidc import SESSION_KEY, Provider, SignedIn
from services.console.settings import ConsoleSettings, check_assets

HERE = Path(__file__).resolve().parent
log = structlog.get_logger("certibus.console")

#: the session cookie: HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET)
SESSION_COOKIE = "certibus_console"


def fr_date(value: str | dt.date | dt.datetime | None) -> str:
    """``2025-11-13`` (or a date, a datetime) as the French write it: 13/11/2025."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value:%d/%m/%Y}"


def session_status(session: dict) -> str:
    """A session's state in Pix Certif's words."""
    if session.get("status") == "cancelled":
        return "Annulée"
    if session.get("finalised_at"):
        return "Finalisée"
    return "Démarrée" if session.get("started") else "Créée"


def create_app(
    settings: ConsoleSettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> FastAPI:
    """The console app; ``transports`` (tests) mounts services in-process instead of over the network."""
    dsfr = check_assets(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.backend.close()

    app = FastAPI(
        title="certibus — console des établissements", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.templates = templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["fr_date"] = fr_date
    templates.env.globals["session_status"] = session_status
    app.state.backend = Backend(settings, transports)
    app.state.provider = Provider(settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.console_session_secret.get_secret_value(),
        session_cookie=SESSION_COOKIE,
        max_age=settings.console_session_max_age_seconds,
        same_site="lax",
        https_only=bool(settings.console_public_url and settings.console_public_url.startswith("https:")),
    )
    app.mount("/static/dsfr", StaticFiles(directory=dsfr), name="dsfr")
    app.mount("/static/htmx", StaticFiles(directory=settings.htmx_dir), name="htmx")
    app.mount("/static/console", StaticFiles(directory=HERE / "static"), name="console_static")
    app.include_router(pages.router)
    app.include_router(pages_certifiability.router)
    app.include_router(pages_planning.router)
    app.include_router(pages_invigilation.router)
    app.include_router(pages_finalisation.router)
    app.include_router(pages_academie.router)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.exception_handler(pages.SignInNeeded)
    async def sign_in_needed(request: Request, exc: pages.SignInNeeded) -> Response:
        from urllib.parse import quote

        from fastapi.responses import RedirectResponse

        return RedirectResponse(f"/connexion?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return await pages.refused_page(request, exc)

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        log.warning("console.service_unavailable", service=exc.service, error=str(exc))
        user = SignedIn.from_session(request.session.get(SESSION_KEY))
        if request.url.path.endswith((".pdf", ".csv", ".zip")):
            return JSONResponse({"error": "service unavailable"}, status_code=502)
        return pages.page(
            request,
            "error.html",
            user,
            status=502,
            title="Service momentanément indisponible",
            message=f"Le service « {exc.service} » ne répond pas. Réessayez dans quelques instants.",
        )

    return app
