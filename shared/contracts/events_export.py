"""The events export publishes: a school's livret file and a class's results CSV produced.

Part of the v1 catalogue (``shared.contracts.events``, where consumers import them from).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.contracts.event_base import Event, routed
from shared.contracts.topics import EXPORT


@routed("export", EXPORT, "livret_export_produced", "uai")
class LivretExportProduced(Event):
    uai: str
    level: Literal["LSU", "LSL"]
    file_name: str
    sha256: str
    certifications: int
    validated: int
    rejected: int
    pending: int
    produced_at: datetime


@routed("export", EXPORT, "class_results_exported", "uai")
class ClassResultsExported(Event):
    uai: str
    division: str
    file_name: str
    sha256: str
    rows: int
    exported_at: datetime
