"""What a school reads from the export service: its files as produced, the exports log, readiness.

The class CSV, the attestations PDF and the livret are served as they are on disk, the bytes the
last rebuild wrote (never rendered again for a download); before the first livret a school gets an
empty list and the referential (what Pix answers for a school without certification), never
results that its class files do not show yet. A forced rebuild is ``rebuild_now``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from services.export.domain.livret import build_livret_document, render_livret_json, serialise
from services.export.domain.readiness import ClassReadiness, class_readiness
from services.export.domain.selection import ExportIndex
from services.export.domain.uai import school_uai
from services.export.store import ExportRecord, ExportStore
from services.export.usecases import BeginWork
from services.export.usecases.rebuild import LIVRET, RebuildReport, rebuild_school, school_directory
from shared.errors import DomainError

EMPTY_LIVRET = serialise(build_livret_document([]))


async def _read_recorded(output_dir: Path, record: ExportRecord) -> bytes | None:
    """The bytes of a produced file as they are on disk (None when the file is gone)."""
    path = school_directory(output_dir, record.uai) / record.file_name
    try:
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        return None


async def _index_of_school(store: ExportStore, uai: str) -> ExportIndex:
    snapshot = await store.load_school(uai)
    return ExportIndex(snapshot.learners, snapshot.candidates, snapshot.results)


def _class_not_found(uai: str, division: str) -> DomainError:
    return DomainError(
        "class.not_found", "no learner of this school is in this class", uai=uai, division=division
    )


async def livret_file(store: ExportStore, output_dir: Path, uai: str) -> tuple[str | None, bytes]:
    """The school's livret file as last produced (its name, None before the first one). A produced
    file missing from disk is rendered from the read model until a rebuild restores it."""
    record = await store.export_of(uai, LIVRET)
    if record is None:
        return None, EMPTY_LIVRET
    content = await _read_recorded(output_dir, record)
    if content is not None:
        return record.file_name, content
    return None, render_livret_json(await _index_of_school(store, uai), uai)


async def school_livret(store: ExportStore, output_dir: Path, uai: str) -> tuple[str | None, bytes]:
    """The livret of a school route (UAI checked: ``uai.invalid``)."""
    return await livret_file(store, output_dir, school_uai(uai))


async def class_file(
    store: ExportStore, output_dir: Path, uai: str, division: str, kind: str
) -> tuple[str, bytes]:
    """The last file of this kind produced for the class (name, bytes); ``class.not_found`` for a
    class without learners, ``export.no_results`` for one with nothing published yet."""
    uai = school_uai(uai)
    record = await store.export_of(uai, kind, division)
    if record is not None and (content := await _read_recorded(output_dir, record)) is not None:
        return record.file_name, content
    if not (await _index_of_school(store, uai)).class_learners(uai, division):
        raise _class_not_found(uai, division)
    raise DomainError(
        "export.no_results",
        "no published certification to export for this class yet",
        uai=uai,
        division=division,
    )


async def readiness(store: ExportStore, uai: str, division: str) -> ClassReadiness:
    """Whether the class can go to LSU/LSL, and otherwise who blocks it and why."""
    uai = school_uai(uai)
    index = await _index_of_school(store, uai)
    if not index.class_learners(uai, division):
        raise _class_not_found(uai, division)
    return class_readiness(index, uai, division, await store.learners_awaiting_results(uai))


async def school_exports(store: ExportStore, uai: str) -> tuple[str, list[ExportRecord]]:
    """The last file of each kind (and class) produced for the school."""
    uai = school_uai(uai)
    return uai, await store.exports_of(uai)


async def rebuild_now(begin: BeginWork, uai: str, *, output_dir: Path, now: datetime) -> RebuildReport:
    """Rebuild every file of the school now; unchanged files are not rewritten nor announced."""
    uai = school_uai(uai)
    async with begin() as work:
        return await rebuild_school(work, uai, output_dir=output_dir, now=now)
