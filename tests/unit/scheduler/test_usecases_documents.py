"""Documents are rendered once per content: a second download is a read, a change renders anew."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace

import pytest

from services.scheduler.domain import documents as drawing
from services.scheduler.schemas import EnrolmentIn, SessionPatch
from services.scheduler.usecases import documents, enrolment, sessions
from shared.contracts.events import ConvocationsIssued
from tests.unit.scheduler.fakes import InMemoryScheduler
from tests.unit.scheduler.usecase_support import CALENDAR, CLOCK, UAI, fast_hash, new_session, refused, school


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """Counts the bundles and attendance sheets actually drawn."""
    drawn: list[str] = []

    def counting(name, real):
        def counted(*args):
            drawn.append(name)
            return real(*args)

        return counted

    monkeypatch.setattr(drawing, "build_session_bundle", counting("bundle", drawing.build_session_bundle))
    prefix, sheet = documents.SESSION_DOCUMENTS["attendance-sheet"]
    monkeypatch.setitem(documents.SESSION_DOCUMENTS, "attendance-sheet", (prefix, counting("sheet", sheet)))
    return drawn


async def test_two_downloads_give_the_same_bytes_rendered_once_and_a_change_renders_anew(renders) -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    session_id = await new_session(scheduler)
    scheduler.add_class(UAI, "TG1", 2)

    first = await documents.session_bundle(scheduler.begin, session_id=session_id)
    second = await documents.session_bundle(scheduler.begin, session_id=session_id)
    assert second.content == first.content and renders == ["bundle"]
    assert second.file_name == first.file_name and second.media_type == "application/zip"

    await enrolment.enrol(
        scheduler.begin, session_id=session_id, body=EnrolmentIn(division="TG1"), clock=CLOCK
    )
    enrolled = await documents.session_bundle(scheduler.begin, session_id=session_id)
    assert enrolled.content != first.content and renders == ["bundle"] * 2

    await sessions.patch_session(
        scheduler.begin,
        session_id=session_id,
        body=SessionPatch(time="10:00"),
        clock=CLOCK,
        calendar=CALENDAR,
        hash_password=fast_hash,
    )
    moved = await documents.session_bundle(scheduler.begin, session_id=session_id)
    assert moved.content not in (first.content, enrolled.content) and len(renders) == 3
    assert (await documents.session_bundle(scheduler.begin, session_id=session_id)).content == moved.content
    assert len(renders) == 3


async def test_each_kind_is_kept_apart_and_an_unknown_kind_is_refused(renders) -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    session_id = await new_session(scheduler)
    sheet = await documents.session_document(scheduler.begin, session_id=session_id, kind="attendance-sheet")
    kit = await documents.session_document(scheduler.begin, session_id=session_id, kind="invigilator-kit")
    assert sheet.content.startswith(b"%PDF") and kit.content != sheet.content
    again = await documents.session_document(scheduler.begin, session_id=session_id, kind="attendance-sheet")
    assert again.content == sheet.content and renders == ["sheet"]
    await refused(
        "document.unknown", documents.session_document(scheduler.begin, session_id=session_id, kind="x")
    )


async def session_of_two() -> tuple[InMemoryScheduler, uuid.UUID]:
    """A school's session with a class of two enrolled."""
    scheduler = InMemoryScheduler()
    await school(scheduler)
    session_id = await new_session(scheduler)
    scheduler.add_class(UAI, "TG1", 2)
    await enrolment.enrol(
        scheduler.begin, session_id=session_id, body=EnrolmentIn(division="TG1"), clock=CLOCK
    )
    return scheduler, session_id


async def test_convocations_are_drawn_before_the_schools_lock_and_kept_for_the_download(monkeypatch) -> None:
    """Every command of a school waits on its lock: the ~100 ms bundle is not drawn under it."""
    scheduler, session_id = await session_of_two()
    locked_while_drawing: list[bool] = []
    real = drawing.build_session_bundle

    def watched(*args):
        locked_while_drawing.append(UAI in scheduler.school_locks_held)
        return real(*args)

    monkeypatch.setattr(drawing, "build_session_bundle", watched)
    issued = await documents.issue_convocations(scheduler.begin, session_id=session_id, clock=CLOCK)
    bundle = await documents.session_bundle(scheduler.begin, session_id=session_id)
    assert locked_while_drawing == [False]  # drawn once, unlocked; the download reads the kept bytes
    assert issued["bundle_sha256"] == hashlib.sha256(bundle.content).hexdigest()
    [event] = scheduler.emitted(ConvocationsIssued)
    assert event.bundle_sha256 == issued["bundle_sha256"] and len(event.candidate_ids) == 2


async def test_a_session_changed_while_its_convocations_are_drawn_is_drawn_again_under_the_lock(
    monkeypatch,
) -> None:
    scheduler, session_id = await session_of_two()
    locked_while_drawing: list[bool] = []
    real = drawing.build_session_bundle

    def renamed_meanwhile(*args):
        locked_while_drawing.append(UAI in scheduler.school_locks_held)
        if len(locked_while_drawing) == 1:  # another command commits while the first bundle is drawn
            row = scheduler.state.schools[UAI]
            scheduler.state.schools[UAI] = replace(row, name=row.name + " (renommé)")
        return real(*args)

    monkeypatch.setattr(drawing, "build_session_bundle", renamed_meanwhile)
    issued = await documents.issue_convocations(scheduler.begin, session_id=session_id, clock=CLOCK)
    assert locked_while_drawing == [False, True]
    # the fingerprint is that of the bundle showing the school as the lock found it: renamed
    view = await documents.session_view(scheduler.begin, session_id=session_id)
    assert view.school.name.endswith("(renommé)")
    expected = real(*documents._bundle_inputs(view.school, view.row, view.candidates))
    assert issued["bundle_sha256"] == hashlib.sha256(expected).hexdigest()
