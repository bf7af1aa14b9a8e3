"""Documents: a session's PDFs (convocations, attendance sheet, invigilator kit, incident and fraud
reports), its bundle, a school day's bundle, and issuing the convocations (ConvocationsIssued).

Only live sessions have documents; the PDFs themselves are drawn by domain.documents, with Pix
Certif's session number, access code and password once the school recorded them
(``Session.printed``), certibus's own before. Rendering
costs ~100 ms a bundle, so each document is rendered once per content and kept
(``rendered_documents``): its key names it, the digest of everything it shows (school, session,
candidates, renderer version) says whether the kept bytes still hold. A download whose content has
not changed is a read; an enrolment, an edit or a school change gives a new digest, hence new bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.scheduler.domain import documents
from services.scheduler.domain.enrolment import Candidate
from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.schools import normalise_uai
from services.scheduler.domain.sessions import Session
from services.scheduler.store import CandidateRow, IssuedDocument, SchoolRow, SessionRow
from services.scheduler.usecases.common import (
    Begin,
    SchoolClock,
    ensure_live,
    live_session_locked,
    school_document,
    school_of,
    session_of,
    unknown_candidate,
)
from shared.contracts.events import ConvocationsIssued

PDF, ZIP = "application/pdf", "application/zip"

Renderer = Callable[[documents.School, Session, Sequence[Candidate]], bytes]
#: kind (as in the URL) → (file name prefix, renderer)
SESSION_DOCUMENTS: dict[str, tuple[str, Renderer]] = {
    "convocations": ("convocations", documents.render_convocations),
    "attendance-sheet": ("feuille-emargement", documents.render_attendance_sheet),
    "invigilator-kit": ("kit-surveillant", documents.render_invigilator_kit),
    "incident-report": (
        "pv-incident",
        lambda school, session, _: documents.render_incident_report(school, session),
    ),
    "fraud-report": ("pv-fraude", lambda school, session, _: documents.render_fraud_report(school, session)),
}
DOCUMENT_KINDS = tuple(SESSION_DOCUMENTS)
#: part of every digest: bump it when domain.documents draws differently, so kept bytes are redrawn
RENDERING_VERSION = 2  # 2: adapted conditions on the kit and the attendance sheet (issue 16)


async def _rendered(begin: Begin, key: str, shows: object, render: Callable[[], bytes]) -> bytes:
    """The document ``key`` showing ``shows`` (frozen values): kept bytes when they still hold, else
    rendered (in a thread) and kept."""
    digest = hashlib.sha256(repr((RENDERING_VERSION, shows)).encode()).hexdigest()
    async with begin() as uow:
        kept = await uow.store.rendered(key, digest)
    if kept is not None:
        return kept
    content = await asyncio.to_thread(render)
    async with begin() as uow:
        await uow.store.keep_rendered(key, digest, content)
    return content


@dataclass(frozen=True)
class DocumentFile:
    """A file to download: its name, bytes and media type."""

    file_name: str
    content: bytes
    media_type: str


@dataclass
class SessionView:
    row: SessionRow
    school: SchoolRow
    candidates: list[CandidateRow]
    documents: list[IssuedDocument]


async def session_view(begin: Begin, *, session_id: uuid.UUID) -> SessionView:
    """A session (live or cancelled), its school, candidates and issued documents."""
    async with begin() as uow:
        row = await session_of(uow, session_id)
        school = await school_of(uow, row.uai)
        return SessionView(
            row,
            school,
            await uow.store.candidates(session_id),
            await uow.store.session_documents(session_id),
        )


async def _live_view(begin: Begin, session_id: uuid.UUID) -> SessionView:
    view = await session_view(begin, session_id=session_id)
    ensure_live(view.row)
    return view


async def session_document(begin: Begin, *, session_id: uuid.UUID, kind: str) -> DocumentFile:
    """One of the session's PDFs (``kind``: one of DOCUMENT_KINDS)."""
    if kind not in SESSION_DOCUMENTS:
        raise DomainError(
            "document.unknown", f"document inconnu : {kind!r}", kind=kind, known=list(DOCUMENT_KINDS)
        )
    view = await _live_view(begin, session_id)
    prefix, render = SESSION_DOCUMENTS[kind]
    session, school = view.row.session.printed, school_document(view.school)
    candidates = tuple(c.candidate for c in view.candidates)
    content = await _rendered(
        begin,
        f"session:{session_id}:{kind}",
        (school, session, candidates),
        lambda: render(school, session, candidates),
    )
    return DocumentFile(f"{prefix}-session-{session.number}.pdf", content, PDF)


async def candidate_convocation(
    begin: Begin, *, session_id: uuid.UUID, candidate_id: uuid.UUID
) -> DocumentFile:
    """One student's convocation, for a school that hands them out one by one."""
    view = await _live_view(begin, session_id)
    found = next((c for c in view.candidates if c.candidate_id == candidate_id), None)
    if found is None:
        raise unknown_candidate(candidate_id)
    session, school = view.row.session.printed, school_document(view.school)
    content = await _rendered(
        begin,
        f"session:{session_id}:convocation:{candidate_id}",
        (school, session, found.candidate),
        lambda: documents.render_convocation(school, session, found.candidate),
    )
    return DocumentFile(f"convocation-session-{session.number}-{candidate_id}.pdf", content, PDF)


BundleInputs = tuple[documents.School, Session, tuple[Candidate, ...]]


def _bundle_inputs(school: SchoolRow, row: SessionRow, candidates: Sequence[CandidateRow]) -> BundleInputs:
    """Everything a session's bundle shows (equal inputs draw equal bytes)."""
    return school_document(school), row.session.printed, tuple(c.candidate for c in candidates)


async def _bundle(begin: Begin, session_id: uuid.UUID, shows: BundleInputs) -> bytes:
    return await _rendered(
        begin, f"session:{session_id}:bundle", shows, lambda: documents.build_session_bundle(*shows)
    )


async def session_bundle(begin: Begin, *, session_id: uuid.UUID) -> DocumentFile:
    """Every PDF of the session in one zip."""
    view = await _live_view(begin, session_id)
    shows = _bundle_inputs(view.school, view.row, view.candidates)
    content = await _bundle(begin, session_id, shows)
    return DocumentFile(documents.session_bundle_name(shows[1]), content, ZIP)


async def day_bundle(begin: Begin, *, uai: str, day: date) -> DocumentFile:
    """Every live session of the school that day, one folder each."""
    uai = normalise_uai(uai)
    async with begin() as uow:
        school = await school_of(uow, uai)
        rows = await uow.store.school_sessions(uai, day=day)
        pairs = [
            (r.session.printed, [c.candidate for c in await uow.store.candidates(r.session_id)]) for r in rows
        ]
    if not pairs:
        raise DomainError(
            "day.no_session", f"aucune session le {day:%d/%m/%Y} pour {uai}", uai=uai, date=day.isoformat()
        )
    shown = school_document(school)
    content = await _rendered(
        begin,
        f"day:{uai}:{day.isoformat()}",
        (shown, day, tuple((s, tuple(c)) for s, c in pairs)),
        lambda: documents.build_day_bundle(shown, day, pairs),
    )
    return DocumentFile(documents.day_bundle_name(day), content, ZIP)


async def issue_convocations(begin: Begin, *, session_id: uuid.UUID, clock: SchoolClock) -> dict[str, Any]:
    """Render the session's bundle, record its fingerprint and tell the others (ConvocationsIssued).

    The bundle (~100 ms, seconds under load) is drawn, and kept for its download, before the
    school's lock is taken: every command of the school waits on that lock, and a college run
    spent 92 % of PostgreSQL's statement time waiting for it while bundles were drawn under it. Under
    the lock the inputs are read again; when they changed meanwhile the bundle is drawn there.
    """
    now: datetime = clock.now()
    drawn: tuple[BundleInputs, bytes] | None = None
    with suppress(DomainError):  # refused, and named, under the lock below
        view = await _live_view(begin, session_id)
        if view.candidates:
            shows = _bundle_inputs(view.school, view.row, view.candidates)
            drawn = shows, await _bundle(begin, session_id, shows)
    async with begin() as uow:
        row, school = await live_session_locked(uow, session_id)
        cands = await uow.store.candidates(session_id)
        if not cands:
            raise DomainError(
                "convocations.no_candidate", f"la session {row.session.number} n'a aucun candidat à convoquer"
            )
        shows = _bundle_inputs(school, row, cands)
        if drawn is not None and drawn[0] == shows:
            content = drawn[1]
        else:  # enrolled, edited or renamed since it was drawn
            content = await asyncio.to_thread(documents.build_session_bundle, *shows)
        file_name = documents.session_bundle_name(row.session.printed)
        sha256 = hashlib.sha256(content).hexdigest()
        candidate_ids = [c.candidate_id for c in cands]
        await uow.store.insert_document(
            session_id=session_id,
            uai=school.uai,
            kind="session_bundle",
            file_name=file_name,
            sha256=sha256,
            size_bytes=len(content),
            candidate_ids=candidate_ids,
            now=now,
        )
        await uow.store.mark_convoked(session_id, now)
        await uow.emit(
            ConvocationsIssued(
                session_id=str(session_id),
                uai=school.uai,
                candidate_ids=[str(c) for c in candidate_ids],
                bundle_file=file_name,
                bundle_sha256=sha256,
                issued_at=now,
            )
        )
    return {
        "session_id": session_id,
        "candidate_ids": candidate_ids,
        "bundle_file": file_name,
        "bundle_sha256": sha256,
        "issued_at": now,
    }
