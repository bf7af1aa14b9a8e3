"""The export service: class results CSV, attestations PDF and livret scolaire (LSU/LSL) files
and API, rendered from its own read model of roster, session and result events."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from services.export.api import router
from services.export.domain.auth import LIVRET_SCOPE, MIN_SIGNING_KEY_BYTES
from services.export.handlers import stale_schools_job, wire
from shared.service import ServiceDefinition
from shared.settings import ServiceSettings


class ApiClientConfig(BaseModel):
    """One client of the livret API, as listed in ``EXPORT_API_CLIENTS``."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    secret_hash: str | None = Field(default=None, description="pbkdf2_sha256$iterations$salt$hash")
    secret: SecretStr | None = Field(default=None, description="clear secret, hashed at start-up")
    uais: list[str] = Field(default_factory=list, description="schools the client may read")
    scopes: list[str] = Field(default_factory=lambda: [LIVRET_SCOPE])

    @model_validator(mode="after")
    def _one_secret(self) -> ApiClientConfig:
        if (self.secret_hash is None) == (self.secret is None):
            raise ValueError(f"client {self.client_id}: give exactly one of secret_hash or secret")
        return self


class Settings(ServiceSettings):
    http_port: int = Field(default=8004)
    export_output_dir: Path = Field(
        default=Path("./out/exports"), description="files are written under <dir>/<UAI>/"
    )
    export_api_clients: list[ApiClientConfig] = Field(
        default_factory=list, description="JSON list of {client_id, secret_hash|secret, uais}"
    )
    export_token_secret: SecretStr | None = Field(
        default=None, description=f"HS256 key of livret API tokens, ≥ {MIN_SIGNING_KEY_BYTES} bytes"
    )
    export_rebuild_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often schools whose roster or sessions changed are rebuilt"
    )

    @field_validator("export_token_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SIGNING_KEY_BYTES:
            raise ValueError(f"EXPORT_TOKEN_SECRET must have at least {MIN_SIGNING_KEY_BYTES} bytes")
        return value


definition = ServiceDefinition(
    name="export",
    settings_class=Settings,
    migrations=Path(__file__).parent / "migrations",
    wire=wire,
    router=router,
    jobs=[stale_schools_job],
    read_model_tables=["learners", "sessions", "candidates", "results", "exports", "stale_schools"],
    title="certibus export",
)
