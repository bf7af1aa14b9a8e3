"""The finalisation service: invigilator space, session finalisation, Pix results intake.

Consumes the scheduler's sessions and enrolments; raises SessionStarted, SessionFinalised,
SessionFinalisationOverdue and ResultsProcessed. This module is the composition root: the only
place that turns the running service (pool, clock, settings) into the use cases' dependencies.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

import structlog
from pydantic import Field, SecretStr

from services.finalisation import handlers, store, store_erasure
from services.finalisation.api_common import DEPENDENCIES, ERROR_STATUSES
from services.finalisation.api_referent import router
from services.finalisation.usecases import invigilation
from services.finalisation.usecases.overdue import check_overdue
from services.finalisation.usecases.ports import Dependencies
from shared.contracts.topics import ELIGIBILITY, SCHEDULER
from shared.erasure import handle_erasures, keep_erasures
from shared.password_hash import verify_password
from shared.service import Runtime, ServiceDefinition
from shared.settings import ApiToken, InvigilatorPasswordSettings, ServiceSettings
from shared.usecases import every

log = structlog.get_logger(__name__)


class FinalisationSettings(ServiceSettings, InvigilatorPasswordSettings):
    http_port: int = Field(default=8003)
    invigilator_token_secret: str = Field(
        default="certibus-dev-invigilator-secret",
        min_length=16,
        description="HMAC key of invigilator tokens; set a long random value in every real deployment",
    )
    invigilator_token_ttl_minutes: int = Field(
        default=240, ge=1, description="lifetime of an invigilator token (a session lasts about 2 h)"
    )
    invigilator_login_attempts_per_minute: int = Field(
        default=10,
        ge=1,
        description="failed invigilator logins a session number, and a client address, get per minute"
        " (then 429 with Retry-After); counted in PostgreSQL, shared by every replica",
    )
    finalisation_overdue_days: int = Field(
        default=2, ge=0, description="days after the session's start before it is reported overdue"
    )
    finalisation_overdue_check_seconds: float = Field(
        default=300, gt=0, description="interval of the overdue check"
    )
    results_max_bytes: int = Field(default=20_000_000, ge=1, description="largest results file accepted")
    finalisation_amendment_hours: float = Field(
        default=48,
        ge=0,
        description="hours after finalising during which the referent may amend it (before any result"
        " arrives); 0: never",
    )
    finalisation_api_token: ApiToken | None = Field(
        default=None,
        description="older name of API_TOKEN for finalisation and results intake; either is accepted",
    )

    def api_tokens(self) -> list[SecretStr]:
        return [t for t in (self.api_token, self.finalisation_api_token) if t is not None]


def dependencies(runtime: Runtime) -> Dependencies:
    """The use cases' dependencies on this running service (the clock is read at each call)."""
    settings: FinalisationSettings = runtime.settings
    return Dependencies(
        begin=lambda: store.begin(runtime.pool, runtime.service),
        read=lambda: store.read_only(runtime.pool),
        now=lambda: runtime.clock.now(),
        verify_password=partial(verify_password, key=settings.invigilator_password_key.get_secret_value()),
        token_secret=settings.invigilator_token_secret,
        token_ttl=timedelta(minutes=settings.invigilator_token_ttl_minutes),
        results_max_bytes=settings.results_max_bytes,
        login_attempts_per_minute=settings.invigilator_login_attempts_per_minute,
        amendment_window=timedelta(hours=settings.finalisation_amendment_hours),
    )


async def overdue_tick(runtime: Runtime) -> list[str]:
    """One overdue check at the service's current time; the ids of the sessions it reported."""
    return await check_overdue(
        dependencies(runtime).begin,
        now=runtime.clock.now(),
        days=runtime.settings.finalisation_overdue_days,
    )


#: the overdue check every FINALISATION_OVERDUE_CHECK_SECONDS (a failed tick waits for the next)
overdue_job = every(
    overdue_tick, lambda runtime: runtime.settings.finalisation_overdue_check_seconds, "overdue check"
)


async def prune_login_attempts_tick(runtime: Runtime) -> int:
    """Forget the login counters of windows that are over; how many went."""
    return await invigilation.prune_login_attempts(dependencies(runtime).begin, now=runtime.clock.now())


#: with the overdue check's rhythm: a stale counter refuses nothing, it only takes room
prune_login_attempts_job = every(
    prune_login_attempts_tick,
    lambda runtime: runtime.settings.finalisation_overdue_check_seconds,
    "login attempts pruning",
)


def wire(runtime: Runtime) -> None:
    runtime.state[DEPENDENCIES] = dependencies(runtime)
    # Partitions in parallel: every scheduler event here is keyed by its session_id (its subject,
    # shared/contracts/events.py), and its handler writes only that session's rows (its `sessions`
    # row, its `candidates` rows), reading nothing of another session; two partitions never hold
    # events of the same session, so their transactions never touch the same rows.
    sessions = runtime.consumer("sessions", SCHEDULER, parallel_partitions=True)
    for event_cls, batch_handler in handlers.BATCH_HANDLERS.items():
        sessions.on_batch(event_cls, batch_handler)
    keep_erasures(sessions, store_erasure.erase_tables)
    # eligibility's LearnerErasureRequested only (the README's *Erasing a learner*)
    erasures = runtime.consumer("erasures", ELIGIBILITY)
    handle_erasures(erasures, "finalisation", store_erasure.erase_tables, lambda: runtime.clock.now())


definition = ServiceDefinition(
    name="finalisation",
    settings_class=FinalisationSettings,
    migrations=Path(__file__).parent / "migrations",
    wire=wire,
    router=router,
    jobs=[overdue_job, prune_login_attempts_job],
    read_model_tables=["sessions", "candidates"],
    error_statuses=ERROR_STATUSES,
    title="certibus finalisation",
)
