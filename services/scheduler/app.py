"""Wiring of the scheduler, its one composition root: settings, consumers, routes, read models, and
the use cases' dependencies (transactions, the schools' clock, the calendar read once, the hasher)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from services.scheduler import handlers
from services.scheduler.api import DEPENDENCIES, ERROR_STATUSES, UseCaseDependencies, router
from services.scheduler.domain.calendar import CALENDAR_FILE, CertificationCalendar
from services.scheduler.store import transactions
from services.scheduler.usecases.common import SchoolClock
from shared.contracts.events import SessionFinalised, SessionStarted
from shared.contracts.topics import ELIGIBILITY, FINALISATION
from shared.password_hash import keyed_verifier
from shared.service import Runtime, ServiceDefinition
from shared.settings import InvigilatorPasswordSettings, ServiceSettings

MIGRATIONS = Path(__file__).with_name("migrations")


class Settings(ServiceSettings, InvigilatorPasswordSettings):
    http_port: int = Field(default=8001)
    school_timezone: str = Field(
        default="Europe/Paris",
        description="IANA time zone of the schools' clocks (session times are local, 'heure locale')",
    )
    calendar_file: Path = Field(
        default=CALENDAR_FILE,
        description="JSON file of certification windows per school year and track (a new year = new entry)",
    )

    @field_validator("school_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone: fail at start-up, not at the first request
        return value


def wire(runtime: Runtime) -> None:
    settings: Settings = runtime.settings
    runtime.state[DEPENDENCIES] = UseCaseDependencies(
        begin=transactions(runtime.unit_of_work),
        # read at each call: tests (and the demo's clock) replace runtime.clock while it runs
        clock=SchoolClock(lambda: runtime.clock.now(), ZoneInfo(settings.school_timezone)),
        calendar=CertificationCalendar.load(settings.calendar_file),
        hash_password=partial(keyed_verifier, key=settings.invigilator_password_key.get_secret_value()),
    )
    # Parallel partitions: learner events are keyed by learner id, and their handlers write only
    # that learner's rows (learners, learner_certifiability), so two partitions never touch one row.
    learners = runtime.consumer("learners", ELIGIBILITY, parallel_partitions=True)
    handlers.handle_learner_events(learners)
    finalisation = runtime.consumer("finalisation", FINALISATION)
    finalisation.on(SessionStarted, handlers.on_session_started)
    finalisation.on(SessionFinalised, handlers.on_session_finalised)


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
