"""The Pix Certif link: a plan's sessions file, and Pix's values recorded per session or from a file.

Recording Pix's number, access code and password of a session changes what its documents print and
what opens its invigilator space, so it is announced like any edit: SessionUpdated names the fields
that changed (``pix_session_number``, ``pix_access_code``, ``invigilator_password``) and carries the
keyed verifier of Pix's password, never the password (docs/adr/0007). The same values again change
nothing and raise nothing. A file is applied whole or refused whole (shared.file_issues).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.pix_certif import (
    REJECTED,
    SessionToCreate,
    pix_link,
    read_sessions_file,
    record_pix_link,
    render_sessions_file,
    resolve_rows,
)
from services.scheduler.domain.schools import normalise_uai
from services.scheduler.domain.sessions import PixCertifLink, Session
from services.scheduler.store import SchoolRow, SessionRow
from services.scheduler.usecases.common import (
    Begin,
    PasswordHasher,
    SchoolClock,
    UnitOfWork,
    live_session_locked,
    school_of,
)
from services.scheduler.usecases.documents import DocumentFile
from services.scheduler.usecases.sessions import session_details
from shared.contracts.events import SessionUpdated
from shared.file_issues import FileIssues, file_rejection

CSV = "text/csv; charset=utf-8"
#: the fields of SessionUpdated.changed_fields a Pix Certif link may change
PIX_FIELDS = ("pix_session_number", "pix_access_code", "invigilator_password")


@dataclass(frozen=True)
class PixImport:
    """What an imported file did: the sessions it changed, those it left as they were, blank lines."""

    file_name: str
    recorded: list[uuid.UUID]
    unchanged: list[uuid.UUID]
    skipped_lines: list[int]


def _changed_fields(before: Session, after: Session) -> list[str]:
    old, new = before.pix, after.pix
    fields = []
    if (old.number if old else None) != (new.number if new else None):
        fields.append("pix_session_number")
    if (old.access_code if old else None) != (new.access_code if new else None):
        fields.append("pix_access_code")
    if before.password_in_use != after.password_in_use:
        fields.append("invigilator_password")
    return fields


async def _apply(
    uow: UnitOfWork,
    school: SchoolRow,
    rows: dict[uuid.UUID, SessionRow],
    links: dict[uuid.UUID, PixCertifLink],
    *,
    clock: SchoolClock,
    hash_password: PasswordHasher,
) -> list[uuid.UUID]:
    """Store the links that change something and announce each; the ids of the changed sessions."""
    now = clock.now()
    changed: dict[uuid.UUID, tuple[PixCertifLink, str]] = {}
    events = []
    for session_id, link in links.items():
        before = rows[session_id].session
        after = record_pix_link(before, link)
        fields = _changed_fields(before, after)
        if not fields:
            continue
        verifier = hash_password(after.password_in_use)
        changed[session_id] = (link, verifier)
        events.append(
            SessionUpdated(
                **session_details(school, session_id, after, verifier), changed_fields=fields, updated_at=now
            )
        )
    await uow.store.record_pix_links(changed, now)
    for event in events:
        await uow.emit(event)
    return list(changed)


async def record_one(
    begin: Begin,
    *,
    session_id: uuid.UUID,
    number: int,
    access_code: str,
    password: str,
    clock: SchoolClock,
    hash_password: PasswordHasher,
) -> bool:
    """Record one session's Pix values; True when they changed something."""
    link = pix_link(number, access_code, password)
    async with begin() as uow:
        row, school = await live_session_locked(uow, session_id)
        holders = await uow.store.live_pix_numbers([link.number])
        if holders.get(link.number, row.session.number) != row.session.number:
            raise DomainError(
                "pix.session_number_taken",
                f"le numéro Pix {link.number} est déjà celui de la session certibus {holders[link.number]}",
                pix_session_number=link.number,
                session_number=holders[link.number],
            )
        changed = await _apply(
            uow, school, {session_id: row}, {session_id: link}, clock=clock, hash_password=hash_password
        )
    return bool(changed)


async def import_file(
    begin: Begin,
    *,
    uai: str,
    file_name: str,
    data: bytes,
    max_bytes: int,
    clock: SchoolClock,
    hash_password: PasswordHasher,
) -> PixImport:
    """Record Pix's values of every line of the school's filled sessions file, all or none."""
    uai = normalise_uai(uai)
    issues = FileIssues(file_name)
    if len(data) > max_bytes:
        issues.add(None, None, "file.too_large", f"fichier de plus de {max_bytes} octets")
        raise file_rejection(REJECTED, file_name, issues.issues)
    parsed = read_sessions_file(data, file_name, issues)  # the lines read are checked too, below
    async with begin() as uow:
        school = await school_of(uow, uai, lock=True)
        live = {r.session_id: r for r in await uow.store.live_sessions(uai)}
        # a number held by any other live session is refused (a swap too: one session at a time)
        taken = await uow.store.live_pix_numbers([r.link.number for r in parsed.rows])
        links = resolve_rows(parsed.rows, {sid: r.session for sid, r in live.items()}, taken, issues)
        if issues:
            raise file_rejection(REJECTED, file_name, issues.issues)
        changed = await _apply(uow, school, live, links, clock=clock, hash_password=hash_password)
    return PixImport(
        file_name,
        recorded=changed,
        unchanged=[sid for sid in links if sid not in changed],
        skipped_lines=list(parsed.skipped),
    )


async def plan_sessions_file(begin: Begin, *, plan_id: uuid.UUID) -> DocumentFile:
    """The sessions of a plan to create in Pix Certif, one line each: once confirmed, the sessions
    it created as they are now (certibus number, Pix's values once recorded); before, its proposal."""
    async with begin() as uow:
        plan = await uow.store.get_plan(plan_id)
        if plan is None:
            raise DomainError("plan.unknown", f"plan inconnu : {plan_id}", plan_id=str(plan_id))
        if plan.status == "confirmed":
            rows = await uow.store.plan_sessions(plan_id)
            ids = [r.session_id for r in rows]
            classes = await uow.store.session_classes(ids)
            counts = await uow.store.candidate_counts(ids)
            lines = [
                SessionToCreate(r.session, classes.get(r.session_id, ()), counts.get(r.session_id, 0))
                for r in rows
            ]
        else:
            lines = [
                SessionToCreate(
                    Session(0, p.site, p.room, p.invigilators, p.day, p.time, "", ""),
                    tuple(division for division, _ in p.classes),
                    len(p.learner_ids),
                    created=False,
                )
                for p in plan.proposal.sessions
            ]
    name = f"sessions-pix-certif-{plan.uai}-{plan.school_year}-{str(plan_id)[:8]}.csv"
    return DocumentFile(name, render_sessions_file(lines), CSV)
