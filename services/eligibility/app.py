"""The eligibility service: rosters, certifiability per class, and the one-month check.

The composition root: its settings, its routes (api.py) and their error table, its consumers
(handlers.py), and the one-month check job, which gives the use case its store, clock and settings.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from pydantic import Field

from services.eligibility.api import ERRORS, router
from services.eligibility.domain.remediation import DEFAULT_CHECK_LEAD_DAYS
from services.eligibility.domain.tabular import MAX_FILE_BYTES
from services.eligibility.handlers import wire
from services.eligibility.store import transactions
from services.eligibility.usecases.one_month_check import check_remediations
from shared.contracts.events import RemediationRequested
from shared.service import Runtime, ServiceDefinition
from shared.settings import ServiceSettings
from shared.usecases import every

log = structlog.get_logger(__name__)


class Settings(ServiceSettings):
    http_port: int = Field(default=8002)
    remediation_lead_days: int = Field(
        default=DEFAULT_CHECK_LEAD_DAYS,
        ge=0,
        description="days before a session when its students are checked",
    )
    remediation_check_interval_seconds: float = Field(
        default=300.0, gt=0, description="how often the one-month check looks for due sessions"
    )
    remediation_timezone: str = Field(
        default="Europe/Paris", description="time zone in which the check's 'today' is taken"
    )
    max_upload_bytes: int = Field(
        default=MAX_FILE_BYTES, ge=1024, description="largest roster / campaign export accepted, in bytes"
    )


async def remediation_tick(runtime: Runtime) -> list[RemediationRequested]:
    """One run of the one-month check with the service's store, clock and settings."""
    settings = runtime.settings
    return await check_remediations(
        transactions(runtime.unit_of_work),
        now=runtime.clock.now(),
        timezone=settings.remediation_timezone,
        lead_days=settings.remediation_lead_days,
    )


#: the one-month check every REMEDIATION_CHECK_INTERVAL_SECONDS (a failed tick waits for the next)
remediation_job = every(
    remediation_tick, lambda runtime: runtime.settings.remediation_check_interval_seconds, "one-month check"
)


definition = ServiceDefinition(
    name="eligibility",
    settings_class=Settings,
    migrations=Path(__file__).parent / "migrations",
    wire=wire,
    router=router,
    jobs=[remediation_job],
    read_model_tables=["sessions", "session_candidates", "remediation_items", "remediation_certifiable_at"],
    error_statuses=ERRORS,
    title="certibus eligibility",
)
