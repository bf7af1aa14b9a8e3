"""The export service: class results CSV, attestations PDF and livret scolaire (LSU/LSL) files
and API, rendered from its own read model of roster, session and result events.

The composition root: its settings, its routes (api.py) and their error table, its consumers
(handlers.py), and the stale-class job, which gives the rebuild use case its store, clock and
output directory.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from services.export.api import ERRORS, router
from services.export.domain.auth import LIVRET_SCOPE, MIN_SIGNING_KEY_BYTES
from services.export.handlers import wire
from services.export.store import transactions
from services.export.usecases.rebuild import rebuild_stale_schools
from shared.service import WHOLE_TABLE, Runtime, ServiceDefinition
from shared.settings import ServiceSettings
from shared.usecases import every

log = structlog.get_logger(__name__)


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
        default=5.0, gt=0, description="how often the classes whose roster or sessions changed are rebuilt"
    )

    @field_validator("export_token_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SIGNING_KEY_BYTES:
            raise ValueError(f"EXPORT_TOKEN_SECRET must have at least {MIN_SIGNING_KEY_BYTES} bytes")
        return value


async def stale_schools_tick(runtime: Runtime, limit: int = 50) -> int:
    """One tick of the job: rebuild the marked classes of up to ``limit`` schools; return how many schools."""
    return await rebuild_stale_schools(
        transactions(runtime.unit_of_work),
        output_dir=Path(runtime.settings.export_output_dir),
        now=runtime.clock.now(),
        limit=limit,
    )


async def rebuild_all_stale(runtime: Runtime) -> None:
    """Ticks until no class is left marked (a tick rebuilds at most 50 schools)."""
    while await stale_schools_tick(runtime):
        pass


#: every EXPORT_REBUILD_INTERVAL_SECONDS, rebuild the classes whose roster or sessions moved
stale_schools_job = every(
    rebuild_all_stale,
    lambda runtime: runtime.settings.export_rebuild_interval_seconds,
    "rebuilding stale schools",
)


definition = ServiceDefinition(
    name="export",
    settings_class=Settings,
    migrations=Path(__file__).parent / "migrations",
    wire=wire,
    router=router,
    jobs=[stale_schools_job],
    read_model_tables=["learners", "sessions", "candidates", "results", "exports", "stale_classes"],
    digest_ignores={
        "learners": ("updated_at",),  # now() when the roster event was applied, not a fact of the event
        "sessions": ("updated_at",),  # idem for the session events
        # the rebuild job's log of the files it wrote and its queue of classes to render: they follow
        # the job's clock (when it ran, which marks it had drained, bigserial mark ids), not the events;
        # the files themselves are compared byte for byte (tests/integration/test_replay.py)
        "exports": WHOLE_TABLE,
        "stale_classes": WHOLE_TABLE,
    },
    error_statuses=ERRORS,
    title="certibus export",
)
