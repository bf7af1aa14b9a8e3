"""The console's settings: where the services answer, the sign-in client, the session cookie's key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator

from shared.settings import OidcSettings, development_secrets

#: where deploy/local/console-assets.sh installs the npm packages (git-ignored)
DEFAULT_ASSETS_DIR = Path(__file__).resolve().parent / "assets" / "node_modules"
#: the development value of CONSOLE_SESSION_SECRET (refused with ENVIRONMENT=production)
DEV_SESSION_SECRET = "certibus-console-development-session-secret"


class ConsoleSettings(OidcSettings):
    """Every variable is documented in the README's configuration table (a test checks it)."""

    http_host: str = Field(default="127.0.0.1")
    http_port: int = Field(default=8006)
    log_level: str = Field(default="INFO")
    log_format: str = Field(default="json", pattern="^(json|console)$")
    environment: str = Field(default="development", pattern="^(development|production)$")

    scheduler_url: str = Field(default="http://127.0.0.1:8001")
    eligibility_url: str = Field(default="http://127.0.0.1:8002")
    finalisation_url: str = Field(default="http://127.0.0.1:8003")
    export_url: str = Field(default="http://127.0.0.1:8004")
    academie_url: str = Field(default="http://127.0.0.1:8005")
    console_api_timeout_seconds: float = Field(default=30.0, gt=0)

    console_oidc_client_id: str = Field(default="certibus-console")
    console_oidc_client_secret: SecretStr | None = Field(
        default=None, description="for a confidential client; unset: a public client (PKCE alone)"
    )
    console_oidc_scope: str = Field(default="openid profile")
    console_public_url: str | None = Field(
        default=None,
        description="the console's address as browsers reach it (the redirect URI's base); unset:"
        " taken from each request",
    )
    console_session_secret: Annotated[SecretStr, Field(min_length=32)] = Field(
        default=SecretStr(DEV_SESSION_SECRET),
        description="key signing the session cookie (≥ 32 characters); changing it signs everyone out",
    )
    console_session_max_age_seconds: int = Field(default=8 * 3600, gt=0)
    console_assets_dir: Path = Field(default=DEFAULT_ASSETS_DIR)

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if not self.oidc_issuer:
            raise ValueError(
                "OIDC_ISSUER is required: the console signs people in with the académie's provider"
            )
        if self.environment == "production" and (offending := development_secrets(self)):
            raise ValueError(
                "ENVIRONMENT=production refuses development values; set: " + ", ".join(offending)
            )
        return self

    def service_url(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")

    console_live_refresh_seconds: int = Field(
        default=5, ge=1, le=60, description="how often the invigilator space asks for the room again"
    )

    @property
    def dsfr_dir(self) -> Path:
        return self.console_assets_dir / "@gouvfr" / "dsfr" / "dist"

    @property
    def htmx_dir(self) -> Path:
        return self.console_assets_dir / "htmx.org" / "dist"


class AssetsMissing(RuntimeError):
    """The DSFR or htmx is not installed: the console would render unstyled or frozen pages, so it
    does not start."""


def check_assets(settings: ConsoleSettings) -> Path:
    """The DSFR's dist folder (htmx's must be there too), or a clear error saying how to install them."""
    for package, needed in (
        ("@gouvfr/dsfr", settings.dsfr_dir / "dsfr.min.css"),
        ("htmx.org", settings.htmx_dir / "htmx.min.js"),
    ):
        if not needed.is_file():
            raise AssetsMissing(
                f"{package} is missing ({needed} not found): run deploy/local/console-assets.sh"
                f" (npm installs {package}), or point CONSOLE_ASSETS_DIR at a node_modules folder"
                " holding it"
            )
    return settings.dsfr_dir
