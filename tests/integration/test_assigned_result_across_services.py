"""A results row assigned by hand reaches the class CSV like a matched one (issue 16 item 5).

Scheduler, finalisation and export together on real Kafka and PostgreSQL. A lycée class of two
sits its session; Pix's class CSV comes back with one student's name misspelt, so matching leaves
that row without a candidate and the class CSV holds one student. The referent finds the row in
the session's list and gives it to the student: ResultAssigned, then the session's
ResultsProcessed, and export's class CSV holds both, the assigned row with its certification id.
"""

from __future__ import annotations

import random
import uuid
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from services.export.app import definition as export_definition
from services.finalisation.app import definition as finalisation_definition
from services.scheduler.app import definition as scheduler_definition
from shared.clock import ManualClock
from tests.component.finalisation.finalisation_support import class_csv, csv_line
from tests.events import certifiable_class
from tests.integration.test_catch_up_across_services import PLANNING_DAY, SCHOOL, Room, _seated
from tests.support import wait_for

pytestmark = pytest.mark.integration


def identity(candidate: dict[str, Any], **changes: str) -> SimpleNamespace:
    """What a Pix CSV line names of a candidate (``csv_line`` reads these three)."""
    values = {
        "first_name": candidate["first_name"],
        "last_name": candidate["last_name"],
        "birthdate": date.fromisoformat(candidate["birthdate"]),
    }
    return SimpleNamespace(**{**values, **changes})


async def test_a_row_assigned_by_hand_ends_in_the_class_csv(start_service, publish, tmp_path):
    scheduler = await start_service(scheduler_definition)
    scheduler.runtime.clock = ManualClock(PLANNING_DAY)
    finalisation = await start_service(finalisation_definition)
    export = await start_service(
        export_definition, export_output_dir=tmp_path, export_rebuild_interval_seconds=0.3
    )
    await scheduler.pool.execute("SELECT setval('session_number_seq', $1)", random.randint(10**5, 2 * 10**9))
    uai = f"{uuid.uuid4().int % 10_000_000:07d}D"
    await publish(*certifiable_class(uai, "TG2", 2, PLANNING_DAY))

    async def learners_known() -> bool:
        return await scheduler.pool.fetchval("SELECT count(*) FROM learners WHERE uai = $1", uai) == 2

    await wait_for(learners_known, what="the scheduler's learners read model")
    assert (await scheduler.http.put(f"/schools/{uai}", json=SCHOOL)).status_code == 201
    created = await scheduler.http.post(
        f"/schools/{uai}/sessions",
        json={"room": "Info 1", "invigilators": ["M. Jaurès"], "date": "2025-11-14", "time": "08:00"},
    )
    assert created.status_code == 201, created.text
    sid = created.json()["session_id"]
    assert (
        await scheduler.http.post(f"/sessions/{sid}/enrolments", json={"division": "TG2"})
    ).status_code == 201
    session = (await scheduler.http.get(f"/sessions/{sid}")).json()
    matched, misspelt = session["candidates"]

    room = Room(finalisation, session)
    await wait_for(lambda: _seated(finalisation, sid, 2), what="finalisation to learn the candidates")
    await room.log_in()
    for candidate in (matched, misspelt):
        await room.take_test(candidate["candidate_id"])
    await room.finalise(absent=set())

    first_id = random.randrange(10**9, 2 * 10**9)
    number = session["session_number"]
    results = class_csv(
        csv_line(first_id, identity(matched), number, taken_on="14/11/2025"),
        csv_line(
            first_id + 1,
            identity(misspelt, last_name="Zzz" + misspelt["last_name"]),
            number,
            taken_on="14/11/2025",
        ),
    )
    posted = await finalisation.http.post(
        f"/sessions/{sid}/results", content=results, headers={"Content-Type": "text/csv"}
    )
    assert posted.status_code == 200 and posted.json()["matched"] == 1, posted.text
    found: dict[str, list[str]] = {}

    def class_csv_with(students: int):
        async def check() -> bool:
            reply = await export.http.get(f"/schools/{uai}/classes/TG2/results.csv")
            found["csv"] = reply.content.decode("utf-8-sig").splitlines() if reply.status_code == 200 else []
            return len(found["csv"]) == 1 + students

        return check

    await wait_for(class_csv_with(1), what="the class CSV with the matched student")
    [row] = (await finalisation.http.get(f"/sessions/{sid}/results/unmatched")).json()["rows"]
    assert row["certification_id"] == first_id + 1 and row["assigned"] is None

    assigned = await finalisation.http.post(
        f"/sessions/{sid}/results/assignments",
        json={"certification_id": row["certification_id"], "candidate_id": misspelt["candidate_id"]},
    )
    assert assigned.status_code == 200 and assigned.json()["unchanged"] is False, assigned.text
    await wait_for(class_csv_with(2), what="the class CSV with the assigned student too")
    ids = {line.split(";")[0].strip('"') for line in found["csv"][1:]}
    assert ids == {str(first_id), str(first_id + 1)}, found["csv"]
