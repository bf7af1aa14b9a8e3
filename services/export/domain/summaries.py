"""What the export handlers publish after writing a file.

The fields match the ``LivretExportProduced`` and ``ClassResultsExported`` events (shared/contracts/
events.py) minus the timestamp, which the handler adds. Rendering and summarising happen together
so the counts always describe the exact bytes whose sha256 is announced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from services.export.domain.class_csv import render_class_results_csv
from services.export.domain.files import sha256_hex
from services.export.domain.livret import build_livret_document, livret_status, serialise
from services.export.domain.naming import LivretLevel, class_results_file_name, livret_file_name
from services.export.domain.selection import ExportIndex, select_class_results, select_livret_entries


@dataclass(frozen=True, slots=True)
class LivretExportSummary:
    uai: str
    level: LivretLevel
    file_name: str
    sha256: str
    certifications: int
    validated: int
    rejected: int
    pending: int

    def event_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``LivretExportProduced`` (add ``produced_at``)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ClassResultsExportSummary:
    uai: str
    division: str
    file_name: str
    sha256: str
    rows: int

    def event_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``ClassResultsExported`` (add ``exported_at``)."""
        return asdict(self)


S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class RenderedExport(Generic[S]):
    """A file ready to be written, with the summary of exactly these bytes."""

    file_name: str
    content: bytes
    summary: S


def produce_livret(
    index: ExportIndex, uai: str, level: LivretLevel, on: date
) -> RenderedExport[LivretExportSummary]:
    """Render a school's livret file and count its statuses."""
    entries = select_livret_entries(index, uai)
    content = serialise(build_livret_document(entries))
    statuses = [livret_status(result) for _, result in entries]
    file_name = livret_file_name(uai, level, on)
    summary = LivretExportSummary(
        uai=uai.strip().upper(),
        level=level,
        file_name=file_name,
        sha256=sha256_hex(content),
        certifications=len(entries),
        validated=statuses.count("validated"),
        rejected=statuses.count("rejected"),
        pending=statuses.count("pending"),
    )
    return RenderedExport(file_name, content, summary)


def produce_class_results(
    index: ExportIndex, uai: str, division: str, on: date
) -> RenderedExport[ClassResultsExportSummary]:
    """Render a class results CSV (header only when the class has no published result)."""
    rows = select_class_results(index, uai, division)
    content = render_class_results_csv(rows)
    file_name = class_results_file_name(division, on)
    summary = ClassResultsExportSummary(
        uai=uai.strip().upper(),
        division=division,
        file_name=file_name,
        sha256=sha256_hex(content),
        rows=len(rows),
    )
    return RenderedExport(file_name, content, summary)
