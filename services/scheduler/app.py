"""Wiring of the scheduler, its one composition root: settings, consumers, routes, read models, and
the use cases' dependencies (transactions, the schools' clock, the calendar read once, the hasher).

The calendar is the operator's data (``SCHEDULER_CALENDAR_FILE``): a file that does not validate
stops the service at start-up (file, school year, field), and a current school year with no calendar,
or only a provisional one, is logged as a warning at start-up (schools see it on their checklist).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from pydantic import AliasChoices, Field, field_validator

from services.scheduler import handlers, store_erasure
from services.scheduler.api import router
from services.scheduler.api_candidates import router as candidates_router
from services.scheduler.api_checklist import router as checklist_router
from services.scheduler.api_common import DEPENDENCIES, ERROR_STATUSES, UseCaseDependencies
from services.scheduler.api_pix_certif import router as pix_certif_router
from services.scheduler.domain.calendar import CALENDAR_FILE, CertificationCalendar, Track, school_year_of
from services.scheduler.store import transactions
from services.scheduler.usecases.common import SchoolClock
from shared.contracts.events import LivretExportProduced, ResultsProcessed, SessionFinalised, SessionStarted
from shared.contracts.topics import ELIGIBILITY, EXPORT, FINALISATION
from shared.erasure import handle_erasures
from shared.password_hash import keyed_verifier
from shared.service import Runtime, ServiceDefinition
from shared.settings import InvigilatorPasswordSettings, ServiceSettings

MIGRATIONS = Path(__file__).with_name("migrations")
log = structlog.get_logger(__name__)


class Settings(ServiceSettings, InvigilatorPasswordSettings):
    http_port: int = Field(default=8001)
    school_timezone: str = Field(
        default="Europe/Paris",
        description="IANA time zone of the schools' clocks (session times are local, 'heure locale')",
    )
    scheduler_calendar_file: Path = Field(
        default=CALENDAR_FILE,
        # CALENDAR_FILE: the name before issue 16, still read
        validation_alias=AliasChoices("scheduler_calendar_file", "calendar_file"),
        description="JSON file of certification windows per school year and track (a new year = new"
        " entry); default: the packaged calendar.json",
    )

    @field_validator("scheduler_calendar_file")
    @classmethod
    def _valid_calendar(cls, value: Path) -> Path:
        CertificationCalendar.load(value)  # raises naming the file, the year and the field
        return value

    @field_validator("school_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone: fail at start-up, not at the first request
        return value


def wire(runtime: Runtime) -> None:
    settings: Settings = runtime.settings
    clock = SchoolClock(lambda: runtime.clock.now(), ZoneInfo(settings.school_timezone))
    calendar = CertificationCalendar.load(settings.scheduler_calendar_file)
    warn_about_the_current_year(calendar, clock, settings.scheduler_calendar_file)
    runtime.state[DEPENDENCIES] = UseCaseDependencies(
        begin=transactions(runtime.unit_of_work),
        # read at each call: tests (and the demo's clock) replace runtime.clock while it runs
        clock=clock,
        calendar=calendar,
        hash_password=partial(keyed_verifier, key=settings.invigilator_password_key.get_secret_value()),
    )
    # Parallel partitions: learner events are keyed by learner id, and their handlers write only
    # that learner's rows (learners, learner_certifiability), so two partitions never touch one row.
    learners = runtime.consumer("learners", ELIGIBILITY, parallel_partitions=True)
    handlers.handle_learner_events(learners)
    handle_erasures(learners, "scheduler", store_erasure.erase_tables, lambda: runtime.clock.now())
    finalisation = runtime.consumer("finalisation", FINALISATION)
    finalisation.on(SessionStarted, handlers.on_session_started)
    finalisation.on(SessionFinalised, handlers.on_session_finalised)
    finalisation.on(ResultsProcessed, handlers.on_results_processed)
    # the lifecycle's last step (issue 16): a livret produced after the session's results
    exports = runtime.consumer("exports", EXPORT)
    exports.on(LivretExportProduced, handlers.on_livret_export_produced)


def warn_about_the_current_year(calendar: CertificationCalendar, clock: SchoolClock, path: Path) -> None:
    """One WARNING per track whose current school year has no calendar or only a provisional one."""
    today = clock.local_now().date()
    for track in Track:
        status = calendar.status(school_year_of(today), track)
        if status.state == "published":
            continue
        log.warning(
            "calendar.current_year_" + status.state.value,
            school_year=status.school_year,
            track=track.value,
            calendar_file=str(path),
            warnings=list(status.warnings(today)),
        )


router.include_router(candidates_router)
router.include_router(checklist_router)
router.include_router(pix_certif_router)

definition = ServiceDefinition(
    name="scheduler",
    settings_class=Settings,
    migrations=MIGRATIONS,
    wire=wire,
    router=router,
    read_model_tables=["learners", "learner_certifiability"],
    error_statuses=ERROR_STATUSES,
    title="certibus scheduler: calendar, planning, sessions, enrolment, documents",
)
