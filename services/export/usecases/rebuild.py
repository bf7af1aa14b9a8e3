"""Rebuilding a school's files from the read model: livret JSON, class CSVs, attestations PDFs.

One function (``rebuild_school``) does it for the results handler (``export_results``), the
stale-class job (``rebuild_stale_schools``), the forced rebuild and the benchmark, inside the
caller's unit of work:

1. lock the school (two rebuilds of one school never interleave their writes) and read its stale
   marks (``stale_classes``: the classes a roster, enrolment or session change may have moved);
2. load its roster, enrolments and results, render (in a worker thread) the livret and the CSV
   and attestations PDF of the classes asked for (``touched``: those new results reached; none
   for the job; None: every class) **and of every marked class**, then clear those marks. Only
   a class whose inputs changed is marked, so the classes left out would render the bytes they
   have: a class file is still never behind the livret (a learner whose roster entry arrived
   after their results marked their class, rendered with the livret that takes them in);
3. compare each digest with the last one in the ``exports`` log: an unchanged file is neither
   rewritten nor announced (only re-written when it went missing from disk); a changed one is
   written atomically under ``<output_dir>/<UAI>/`` (class files first, the livret last),
   logged, and announced with ``LivretExportProduced`` / ``ClassResultsExported`` in the same
   transaction.

File names carry the French date of the day the content was produced (Pix Orga's convention);
an unchanged file keeps its name. Superseded files of earlier days are left in place as history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import structlog

from services.export.domain.attestations import (
    NoValidatedCertificate,
    is_attestable,
    render_attestations_pdf,
)
from services.export.domain.class_csv import paris_day
from services.export.domain.files import sha256_hex, write_atomically
from services.export.domain.naming import LivretLevel, attestations_file_name, safe_file_component
from services.export.domain.selection import ExportIndex, division_key, select_class_results
from services.export.domain.summaries import produce_class_results, produce_livret
from services.export.domain.uai import normalise_uai
from services.export.store import ExportRecord, ResultRow, result_row
from services.export.usecases import BeginWork, Work
from shared.contracts.events import ClassResultsExported, LivretExportProduced, ResultsProcessed

log = structlog.get_logger(__name__)

LIVRET = "livret"
CLASS_RESULTS = "class_results"
ATTESTATIONS = "attestations"

#: the mark of every class of a school (left by the version that marked whole schools)
EVERY_CLASS = "*"

LEVEL_OF_SCHOOL: dict[str, LivretLevel] = {"college": "LSU", "lycee": "LSL"}


def school_directory(output_dir: Path, uai: str) -> Path:
    return output_dir / safe_file_component(normalise_uai(uai))


@dataclass(frozen=True, slots=True)
class Rendered:
    """One file as it should now be, and what to announce if it changed."""

    kind: str
    division: str
    file_name: str
    content: bytes
    sha256: str
    items: int
    event_fields: dict | None = None
    level: LivretLevel | None = None

    @property
    def key(self) -> str:
        return "" if self.kind == LIVRET else division_key(self.division)


@dataclass
class RebuildReport:
    """What a rebuild found: every file considered, which changed, and the events raised."""

    uai: str
    files: list[dict] = field(default_factory=list)
    events: list[LivretExportProduced | ClassResultsExported] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(1 for f in self.files if f["changed"])


def _render(
    index: ExportIndex,
    uai: str,
    level: LivretLevel | None,
    divisions: list[str],
    on: date,
    attestations: bool,
    previous: dict[tuple[str, str], ExportRecord],
) -> tuple[list[Rendered], list[tuple[str, str]]]:
    """Render the school's livret and the files of the classes given (pure CPU work, run in a
    thread); also say which logged attestations no longer have anything to attest."""
    rendered: list[Rendered] = []
    vanished: list[tuple[str, str]] = []
    if level is not None:
        livret = produce_livret(index, uai, level, on)
        if livret.summary.certifications or (LIVRET, "") in previous:
            rendered.append(
                Rendered(
                    LIVRET,
                    "",
                    livret.file_name,
                    livret.content,
                    livret.summary.sha256,
                    livret.summary.certifications,
                    livret.summary.event_fields(),
                    level,
                )
            )
    for division in divisions:
        key = division_key(division)
        csv = produce_class_results(index, uai, division, on)
        csv_before = previous.get((CLASS_RESULTS, key))
        if csv.summary.rows or csv_before is not None:
            rendered.append(
                Rendered(
                    CLASS_RESULTS,
                    division,
                    csv.file_name,
                    csv.content,
                    csv.summary.sha256,
                    csv.summary.rows,
                    csv.summary.event_fields(),
                )
            )
        if attestations:
            rows = select_class_results(index, uai, division)
            try:
                pdf = render_attestations_pdf(rows, title=f"Attestations Pix {division}")
            except NoValidatedCertificate:
                if (ATTESTATIONS, key) in previous:
                    vanished.append((ATTESTATIONS, key))
                continue
            pages = sum(1 for r in rows if is_attestable(r))
            rendered.append(
                Rendered(
                    ATTESTATIONS, division, attestations_file_name(division, on), pdf, sha256_hex(pdf), pages
                )
            )
    return rendered, vanished


def _write(directory: Path, files: list[tuple[str, bytes]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files:
        write_atomically(directory / name, content)


async def rebuild_school(
    work: Work,
    uai: str,
    *,
    output_dir: Path,
    now: datetime,
    touched: Collection[str] | None = None,
    attestations: bool = True,
) -> RebuildReport:
    """Bring the school's files up to date with the read model: the livret, and the classes
    ``touched`` (divisions, any spelling; None: every class, those with active learners and those
    exported before) together with every class marked stale, whose marks it then clears."""
    store = work.store
    uai = normalise_uai(uai)
    await store.lock_school(uai)
    marks = await store.stale_marks(uai)  # read before the load: what they mark is in it
    snapshot = await store.load_school(uai)
    level = LEVEL_OF_SCHOOL.get(await store.school_level(uai) or "")
    previous = {(r.kind, r.division_key): r for r in await store.exports_of(uai)}
    index = ExportIndex(snapshot.learners, snapshot.candidates, snapshot.results)

    spellings = {division_key(d): d for d in index.divisions(uai)}
    for record in previous.values():
        if record.kind != LIVRET:
            spellings.setdefault(record.division_key, record.division)
    marked = {key for _, key in marks}
    if touched is not None and EVERY_CLASS not in marked:
        keys = {division_key(d) for d in touched} | marked
        spellings = {key: spelling for key, spelling in spellings.items() if key in keys}
    wanted = sorted(spellings.values())

    if level is None and snapshot.results:
        log.info("no session known for the school yet: livret level unknown, livret deferred", uai=uai)

    on = paris_day(now)
    rendered, vanished = await asyncio.to_thread(
        _render, index, uai, level, wanted, on, attestations, previous
    )

    directory = school_directory(output_dir, uai)
    report = RebuildReport(uai)
    to_write: list[tuple[str, bytes]] = []
    changed: list[Rendered] = []
    # class files first, the livret last: whoever sees the new livret finds the class files
    rendered.sort(key=lambda file: file.kind == LIVRET)
    for file in rendered:
        before = previous.get((file.kind, file.key))
        if before is not None and before.sha256 == file.sha256:
            if not (directory / before.file_name).exists():
                to_write.append((before.file_name, file.content))  # lost from disk: restore it
            file_name, is_changed = before.file_name, False
        else:
            to_write.append((file.file_name, file.content))
            changed.append(file)
            file_name, is_changed = file.file_name, True
        report.files.append(
            {
                "kind": file.kind,
                "division": file.division or None,
                "file_name": file_name,
                "sha256": file.sha256,
                "items": file.items,
                "changed": is_changed,
            }
        )
    if to_write:
        await asyncio.to_thread(_write, directory, to_write)

    for file in changed:
        await store.record_export(
            ExportRecord(
                uai, file.kind, file.key, file.division, file.file_name, file.sha256, file.items, now
            ),
        )
        if file.kind == LIVRET:
            report.events.append(LivretExportProduced(**file.event_fields, produced_at=now))
        elif file.kind == CLASS_RESULTS:
            report.events.append(ClassResultsExported(**file.event_fields, exported_at=now))
    for kind, key in vanished:
        await store.forget_export(uai, kind, key)
        report.removed.append(previous[kind, key].file_name)
    await work.emit_many(report.events)
    await store.clear_stale([mark_id for mark_id, _ in marks])
    if changed:
        log.info("exports rebuilt", uai=uai, changed=len(changed), considered=len(rendered))
    return report


async def export_results(
    work: Work, events: Sequence[ResultsProcessed], *, output_dir: Path, now: datetime
) -> None:
    """Store sessions' results and rebuild, in the same unit of work and once per school, the
    files of every school their learners are in now (the sessions' schools included), each with
    the classes the results reached (and, if a candidate changed learner, the class it left)."""
    store = work.store
    rows, candidates = latest_results(events)
    moved_from = await store.candidate_learners([c[0] for c in candidates])
    await store.upsert_results(rows, candidates)
    classes = await store.classes_of_learners(sorted({r.learner_id for r in rows} | moved_from))
    for event in events:
        classes.setdefault(normalise_uai(event.uai), set())
    for uai in sorted(classes):  # one order everywhere: school locks never deadlock
        report = await rebuild_school(work, uai, output_dir=output_dir, now=now, touched=classes[uai])
        log.info(
            "results exported",
            uai=uai,
            classes=len(classes[uai]),
            changed=report.changed,
            announced=len(report.events),
        )


def latest_results(
    events: Sequence[ResultsProcessed],
) -> tuple[list[ResultRow], list[tuple[str, str, str, str]]]:
    """The rows the events leave, as if applied one after the other: per certification the last
    result, with the last publication time Pix gave (a result without one keeps it); per candidate
    the first session seen (a known candidate keeps its own) and the last learner."""
    rows: dict[int, ResultRow] = {}
    candidates: dict[str, tuple[str, str, str, str]] = {}
    for event in events:
        for result in event.results:
            row = result_row(event, result)
            before = rows.get(row.certification_id)
            if before is not None and not row.published:
                row = replace(
                    row,
                    values=(*row.values[:18], before.values[18], row.values[19]),
                    published=before.published,
                )
            rows[row.certification_id] = row
            first = candidates.get(result.candidate_id)
            session, uai = (first[2], first[3]) if first else (event.session_id, normalise_uai(event.uai))
            candidates[result.candidate_id] = (result.candidate_id, result.learner_id, session, uai)
    return list(rows.values()), list(candidates.values())


async def rebuild_stale_schools(begin: BeginWork, *, output_dir: Path, now: datetime, limit: int = 50) -> int:
    """Rebuild the marked classes of every school that has some (up to ``limit`` schools), each
    school once in its own unit of work; return how many. A class marked while its school was
    rebuilt stays marked for the next round."""
    async with begin() as work:
        pending = await work.store.stale_schools(limit)
    for uai in pending:
        async with begin() as work:
            await rebuild_school(work, uai, output_dir=output_dir, now=now, touched=())
    return len(pending)
