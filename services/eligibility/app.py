"""The eligibility service: rosters, certifiability per class, and the one-month check."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.eligibility.api import router
from services.eligibility.domain.remediation import DEFAULT_CHECK_LEAD_DAYS
from services.eligibility.domain.tabular import MAX_FILE_BYTES
from services.eligibility.handlers import wire
from services.eligibility.one_month_check import remediation_job
from shared.service import ServiceDefinition
from shared.settings import ServiceSettings


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


definition = ServiceDefinition(
    name="eligibility",
    settings_class=Settings,
    migrations=Path(__file__).parent / "migrations",
    wire=wire,
    router=router,
    jobs=[remediation_job],
    read_model_tables=["sessions", "session_candidates"],
    title="certibus eligibility",
)
