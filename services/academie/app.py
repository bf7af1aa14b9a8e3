"""The académie view: a read model of every school's Phase 3 progress, fed by the other
services' events, served read-only to the académie's operators.

The composition root: its settings (the platform's, nothing of its own), its routes (api.py) and
their error table, its consumers (handlers.py) and the derived tables a replay rebuilds.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.academie.api import ERRORS, router
from services.academie.handlers import wire
from shared.service import ServiceDefinition
from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    http_port: int = Field(default=8005)


definition = ServiceDefinition(
    name="academie",
    settings_class=Settings,
    migrations=Path(__file__).parent / "migrations",
    wire=wire,
    router=router,
    read_model_tables=["sessions", "candidates", "learners", "livrets", "class_exports"],
    error_statuses=ERRORS,
    title="certibus académie",
)
