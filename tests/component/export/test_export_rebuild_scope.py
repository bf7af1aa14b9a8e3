"""Which classes a rebuild renders, on real PostgreSQL: only those a batch of events touched.

Results of one class render that class's CSV and attestations and the school's livret; the other
classes' files keep their bytes and their mtime, and are not even rendered (the renderers are
counted). A learner who moves marks the class they leave and the class they join; an enrolment
without results marks nothing; a session marks the school's livret alone. The handlers are
called as the consumers call them (a run of events in one transaction).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.export.app import definition, stale_schools_tick
from services.export.handlers import ExportHandlers
from services.export.usecases import rebuild
from shared.clock import ManualClock
from shared.consumer import Delivery
from shared.contracts.events import LearnerUpdated, SessionUpdated
from tests.events import Outcome, certification_ids, enrolled, learner, new_uai, results, session

pytestmark = pytest.mark.integration


class Renders:
    """Counts the class files rendered, by kind and division (the renderers run in a thread)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        produce_csv, render_pdf = rebuild.produce_class_results, rebuild.render_attestations_pdf

        def counted_csv(index, uai, division, on):
            self.counts["csv", division] += 1
            return produce_csv(index, uai, division, on)

        def counted_pdf(rows, title):
            self.counts["pdf", title.removeprefix("Attestations Pix ")] += 1
            return render_pdf(rows, title=title)

        monkeypatch.setattr(rebuild, "produce_class_results", counted_csv)
        monkeypatch.setattr(rebuild, "render_attestations_pdf", counted_pdf)

    def take(self) -> dict[tuple[str, str], int]:
        counts, self.counts = dict(self.counts), Counter()
        return counts


@pytest.fixture
async def svc(start_service, tmp_path):
    # no consumers (they would export the schools other tests publish) and no job: the test runs it
    service = await start_service(replace(definition, wire=None, jobs=[]), export_output_dir=tmp_path)
    service.runtime.clock = ManualClock(datetime(2025, 4, 2, 9, 0, tzinfo=UTC))
    return service


async def deliver(svc, *events) -> None:
    """All the events as one run of the consumer (one transaction), consecutive types together."""
    by_type = ExportHandlers(svc.runtime).every_event()
    async with svc.runtime.unit_of_work() as uow:
        run: list = []
        for event in [*events, None]:
            if run and (event is None or type(event) is not type(run[0])):
                await by_type[type(run[0])](uow, [Delivery(e, None) for e in run])
                run = []
            if event is not None:
                run.append(event)


async def settle(svc) -> int:
    """The stale-class job until nothing is marked; how many school rebuilds it ran."""
    rebuilt = 0
    while ticked := await stale_schools_tick(svc.runtime):
        rebuilt += ticked
    return rebuilt


def files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


async def marks(svc, uai: str) -> set[str]:
    rows = await svc.pool.fetch("SELECT division_key FROM stale_classes WHERE uai = $1", uai)
    return {r["division_key"] for r in rows}


async def test_results_of_one_class_render_that_class_only_and_the_others_keep_their_bytes(
    svc, tmp_path, monkeypatch
):
    uai = new_uai()
    pupils = {d: [learner(uai, f"{d}{i}", division=d) for i in range(3)] for d in ("3A", "3B", "3C")}
    everyone = [x for group in pupils.values() for x in group]
    s1, s2 = session(uai, 1), session(uai, 2)
    ids = iter(certification_ids(len(everyone) + 1))
    await deliver(svc, *everyone, s1, enrolled(s1, *everyone))
    await deliver(svc, results(s1, *(Outcome(x, next(ids)) for x in everyone)))
    assert await marks(svc, uai) == set()  # the results' rebuild took the roster's marks with it
    assert await settle(svc) == 0
    renders = Renders(monkeypatch)
    before = files(tmp_path / uai)
    exports_before = await svc.pool.fetch("SELECT * FROM exports WHERE uai = $1 ORDER BY 2, 3", uai)

    retaken = pupils["3B"][1]  # a second session for one learner of 3B, a better score
    await deliver(svc, enrolled(s2, retaken), results(s2, Outcome(retaken, next(ids), pix_score=500)))

    assert renders.take() == {("csv", "3B"): 1, ("pdf", "3B"): 1}
    after = files(tmp_path / uai)
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {name for name in after if name.endswith(("_3B.csv", "_3B.pdf")) or "_livret_" in name}
    assert len(changed) == 3
    exports_after = await svc.pool.fetch("SELECT * FROM exports WHERE uai = $1 ORDER BY 2, 3", uai)
    assert [r for r in exports_after if r["division_key"] not in ("3b", "")] == [
        r for r in exports_before if r["division_key"] not in ("3b", "")
    ]
    assert await marks(svc, uai) == set()  # the enrolment of a learner without results marks nothing
    assert await settle(svc) == 0 and renders.take() == {}


async def test_a_move_marks_both_classes_and_the_job_renders_those_only(svc, tmp_path, monkeypatch):
    uai = new_uai()
    pupils = {d: [learner(uai, f"{d}{i}", division=d) for i in range(2)] for d in ("3A", "3B", "3C")}
    everyone = [x for group in pupils.values() for x in group]
    s1 = session(uai, 1)
    ids = iter(certification_ids(len(everyone)))
    await deliver(svc, *everyone, s1, enrolled(s1, *everyone))
    await deliver(svc, results(s1, *(Outcome(x, next(ids)) for x in everyone)))
    await settle(svc)
    renders = Renders(monkeypatch)
    before = files(tmp_path / uai)

    mover = pupils["3A"][0]
    moved = LearnerUpdated(**{**mover.model_dump(), "division": "3C"}, changed_fields=["division"])
    await deliver(svc, moved)
    assert await marks(svc, uai) == {"3a", "3c"}
    assert await settle(svc) == 1
    assert renders.take() == {("csv", "3A"): 1, ("pdf", "3A"): 1, ("csv", "3C"): 1, ("pdf", "3C"): 1}
    after = files(tmp_path / uai)
    assert {n for n in after if before.get(n) != after[n]} == {
        n for n in after if n.endswith(("_3A.csv", "_3A.pdf", "_3C.csv", "_3C.pdf"))
    }  # the livret lists the same certifications: unchanged
    assert [n for n in after if n.endswith(("_3B.csv", "_3B.pdf"))] and all(
        after[n] == before[n] for n in after if "_3B." in n
    )

    # a session change: the livret alone is looked at again (its level comes from the sessions)
    await deliver(svc, SessionUpdated(**{**s1.model_dump(), "room": "C3"}, updated_at=s1.created_at))
    assert await marks(svc, uai) == {""}
    assert await settle(svc) == 1 and renders.take() == {}
    assert files(tmp_path / uai) == after
