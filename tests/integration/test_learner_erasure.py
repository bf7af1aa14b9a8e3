"""Erasing a learner reaches every service's schema, keeps the counts, and stays erased.

The five services run together on real Kafka and PostgreSQL. A collège's roster and profiles go
into eligibility, the scheduler plans a session and enrols the class, finalisation runs the room,
is finalised and takes Pix's results, export writes the class file. An operator then erases one
learner on eligibility (by INE): afterwards no table of any of the five schemas holds that
learner's INE, names or birth date, sessions, rooms, results and the roster keep their counts, the
class file is written again without the learner, every service records and logs the erasure, and
neither a second request, a redelivered LearnerErasureRequested nor the learner's events
published before the erasure (LearnerUpdated, CandidatesEnrolled, ResultsProcessed, replayed)
bring anything back.
"""

from __future__ import annotations

import csv
import io
import random
import string
from dataclasses import replace
from datetime import UTC, date, datetime
from types import SimpleNamespace

import asyncpg
import pytest

from deploy.local.generator import Participation, campaign_csv_bytes, generate_learners, learner_csv_bytes
from services.academie.app import definition as academie_definition
from services.eligibility.app import definition as eligibility_definition
from services.export.app import definition as export_definition
from services.finalisation.app import definition as finalisation_definition
from services.scheduler.app import definition as scheduler_definition
from shared.clock import ManualClock
from shared.contracts.events import (
    CandidatesEnrolled,
    LearnerErasureRequested,
    LearnerRegistered,
    LearnerUpdated,
    ResultsProcessed,
)
from shared.contracts.identifiers import mod23_letter
from shared.contracts.topics import ELIGIBILITY, FINALISATION, SCHEDULER
from shared.erasure import ERASED_BIRTHDATE
from tests.component.finalisation.finalisation_support import class_csv, csv_line, finalisation_body
from tests.support import ServiceUnderTest, wait_for

pytestmark = pytest.mark.integration

PLANNING_DAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # collège window 16/03–13/06/2026, Pix Certif open
SESSION_DAY = "2026-03-20"
SIX = (8, 16, 9, 40, 8, 8, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0)


def unique_name() -> str:
    """A name no other test's learner has: the scratch schemas also read earlier runs' events."""
    return "".join(random.choices(string.ascii_lowercase, k=12)).capitalize()


async def tables(pool: asyncpg.Pool, schema: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
        schema,
    )
    return sorted(r["table_name"] for r in rows)


async def rows_holding(svc: ServiceUnderTest, needle: str, within: str | None = None) -> list[str]:
    """``table`` for every row of the service's schema whose text holds ``needle`` (case-folded; in
    bytea columns too, by its hex), only among the rows also holding ``within`` when given."""

    def matches(value: str) -> str:
        return f"(position({value} IN lower(x::text)) > 0 OR position(encode(convert_to({value}, 'UTF8'), 'hex') IN lower(x::text)) > 0)"

    found = []
    for table in await tables(svc.pool, svc.schema):
        where = matches("lower($1)") + (f" AND {matches('lower($2)')}" if within else "")
        args = [needle, within] if within else [needle]
        count = await svc.pool.fetchval(
            f'SELECT count(*) FROM "{svc.schema}"."{table}" AS x WHERE {where}', *args
        )
        found += [table] * count
    return found


async def test_an_erased_learner_leaves_no_personal_data_in_any_service_and_counts_stay(
    start_service, publish, record_events, tmp_path
):
    scheduler = await start_service(scheduler_definition)
    scheduler.runtime.clock = ManualClock(PLANNING_DAY)
    await scheduler.pool.execute("SELECT setval('session_number_seq', $1)", random.randint(10**6, 2 * 10**9))
    eligibility = await start_service(eligibility_definition)
    finalisation = await start_service(finalisation_definition)
    export = await start_service(
        export_definition, export_output_dir=str(tmp_path / "exports"), export_rebuild_interval_seconds=0.3
    )
    academie = await start_service(academie_definition)
    services = {
        "eligibility": eligibility,
        "scheduler": scheduler,
        "finalisation": finalisation,
        "export": export,
        "academie": academie,
    }

    digits = f"021{random.randrange(10**4):04d}"  # a real department (Côte-d'Or): 096–099 are not
    uai = digits + mod23_letter(digits)
    learners = generate_learners(random.randrange(10**9), 3, levels=(("3", "10310019110", 14),))
    learners = [replace(x, first_name=unique_name(), last_name=unique_name()) for x in learners]
    learners[0] = replace(learners[0], birth_date=date(2011, 2, 17))
    gone = learners[0]
    division = gone.division
    assert {x.division for x in learners} == {division}

    async with record_events([ELIGIBILITY, SCHEDULER, FINALISATION]) as recorder:
        # the year up to the class file: roster, profiles, a session, its room, finalisation, results
        roster = await eligibility.http.post(
            f"/schools/{uai}/rosters", files={"file": ("eleves.csv", learner_csv_bytes(learners))}
        )
        assert roster.status_code == 200, roster.text
        profiles = [
            Participation(x.last_name, x.first_name, x.division, x.ine, True, date(2026, 1, 5), SIX)
            for x in learners
        ]
        campaign = await eligibility.http.post(
            f"/schools/{uai}/campaign-exports", files={"file": ("export.csv", campaign_csv_bytes(profiles))}
        )
        assert campaign.status_code == 200, campaign.text
        [registered] = await recorder.wait_for(LearnerRegistered, ine=gone.ine)
        learner_id = registered.learner_id

        async def certifiable_in_scheduler() -> bool:
            return (
                await scheduler.pool.fetchval(
                    "SELECT count(*) FROM learners l JOIN learner_certifiability c USING (learner_id)"
                    " WHERE l.uai = $1 AND c.status = 'certifiable'",
                    uai,
                )
                == 3
            )

        await wait_for(certifiable_in_scheduler, what="the scheduler's certifiable learners")
        school = {
            "name": "Collège Olympe de Gouges",
            "level": "college",
            "rooms": [{"name": "Info 1", "workstations": 20}],
            "staff": [{"name": "Mme Sand"}],
            "site": "Site principal",
        }
        assert (await scheduler.http.put(f"/schools/{uai}", json=school)).status_code == 201
        created = await scheduler.http.post(
            f"/schools/{uai}/sessions",
            json={"room": "Info 1", "invigilators": ["Mme Sand"], "date": SESSION_DAY, "time": "09:00"},
        )
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]
        enrolled = await scheduler.http.post(f"/sessions/{sid}/enrolments", json={"division": division})
        assert enrolled.status_code == 201, enrolled.text
        [enrolment] = await recorder.wait_for(CandidatesEnrolled, session_id=sid)
        candidates = sorted(enrolment.candidates, key=lambda c: c.learner_id != learner_id)
        assert candidates[0].learner_id == learner_id and len(candidates) == 3
        session = (await scheduler.http.get(f"/sessions/{sid}")).json()
        assert (
            await scheduler.http.get(f"/sessions/{sid}/documents/attendance-sheet.pdf")
        ).status_code == 200

        async def room_known() -> bool:
            return (
                await finalisation.pool.fetchval("SELECT count(*) FROM candidates WHERE session_id = $1", sid)
                == 3
            )

        await wait_for(room_known, what="finalisation's room")
        login = await finalisation.http.post(
            "/invigilator/login",
            json={"session_number": session["session_number"], "password": session["invigilator_password"]},
        )
        assert login.status_code == 200, login.text
        token = {"Authorization": f"Bearer {login.json()['token']}"}
        for candidate in candidates[:2]:
            for action in ("presence", "start", "complete"):
                url = f"/invigilator/sessions/{sid}/candidates/{candidate.candidate_id}/{action}"
                assert (await finalisation.http.post(url, headers=token)).status_code == 200
        room = SimpleNamespace(candidates=candidates)  # what finalisation_body reads of a session
        finalised = await finalisation.http.put(
            f"/sessions/{sid}/finalisation",
            json=finalisation_body(room, {0: None, 1: None}, comment="RAS"),  # type: ignore[arg-type]
        )
        assert finalised.status_code == 200, finalised.text
        first_id = random.randrange(10**9, 2 * 10**9)
        results_file = class_csv(
            *(
                csv_line(
                    first_id + i, c, session["session_number"], taken_on="20/03/2026", birthplace="Dijon"
                )
                for i, c in enumerate(candidates[:2])
            )
        )
        posted = await finalisation.http.post(
            f"/sessions/{sid}/results", content=results_file, headers={"Content-Type": "text/csv"}
        )
        assert posted.status_code == 200, posted.text
        [results] = await recorder.wait_for(ResultsProcessed, session_id=sid)
        class_file = tmp_path / "exports" / uai

        def class_rows() -> list[list[str]]:
            files = sorted(class_file.glob("*_resultats_*.csv"))
            text = files[0].read_bytes().decode("utf-8-sig") if files else ""
            return list(csv.reader(io.StringIO(text), delimiter=";"))[1:]

        async def class_file_written() -> bool:
            return len(class_rows()) == 2

        await wait_for(class_file_written, what="export's class file")
        assert any(gone.last_name in row for row in class_rows())
        # not vacuous: before the erasure each service but the académie view holds the learner
        for name in ("eligibility", "scheduler", "finalisation", "export"):
            assert await rows_holding(services[name], gone.last_name), name

        async def counts() -> dict[str, int]:
            return {
                "roster": await eligibility.pool.fetchval(
                    "SELECT count(*) FROM learners WHERE uai = $1", uai
                ),
                "assessed": await eligibility.pool.fetchval(
                    "SELECT count(*) FROM assessments WHERE uai = $1", uai
                ),
                "enrolled": await scheduler.pool.fetchval(
                    "SELECT count(*) FROM candidates WHERE session_id = $1::uuid", sid
                ),
                "room": await finalisation.pool.fetchval(
                    "SELECT count(*) FROM candidates WHERE session_id = $1", sid
                ),
                "results": await finalisation.pool.fetchval(
                    "SELECT count(*) FROM session_results WHERE session_id = $1", sid
                ),
                "exported": await export.pool.fetchval(
                    "SELECT count(*) FROM results WHERE session_id = $1", sid
                ),
                "view": await academie.pool.fetchval(
                    "SELECT count(*) FROM candidates WHERE session_id = $1", sid
                ),
                "view_learners": await academie.pool.fetchval(
                    "SELECT count(*) FROM learners WHERE uai = $1", uai
                ),
            }

        expected = {
            "roster": 3, "assessed": 3, "enrolled": 3, "room": 3, "results": 2, "exported": 2, "view": 3,
            "view_learners": 3,
        }  # fmt: skip

        async def every_read_model_caught_up() -> bool:  # the académie view reads the enrolment on its own
            return await counts() == expected

        await wait_for(every_read_model_caught_up, what="every service's counts before the erasure")
        before = await counts()
        assert before == expected

        # refusals change nothing: no learner named, another school's or an unknown learner
        nobody = await eligibility.http.post(f"/schools/{uai}/erasures", json={})
        assert nobody.status_code == 422 and nobody.json()["error"]["code"] == "erasure.learner_missing"
        elsewhere = "0750001U"  # a valid UAI, another school
        for body in ({"ine": gone.ine}, {"learner_id": learner_id}, {"learner_id": "not-an-id"}):
            refused = await eligibility.http.post(f"/schools/{elsewhere}/erasures", json=body)
            assert refused.status_code == 404 and refused.json()["error"]["code"] == "learner.not_found"
        assert await counts() == before and await rows_holding(eligibility, gone.ine)

        # the erasure, by INE, as the académie's operator asks for it
        erased = await eligibility.http.post(f"/schools/{uai}/erasures", json={"ine": gone.ine})
        assert erased.status_code == 200, erased.text
        assert erased.json()["learner_id"] == learner_id and erased.json()["already_erased"] is False
        [request] = await recorder.wait_for(LearnerErasureRequested, learner_id=learner_id)
        assert request.uai == uai

        async def erased_everywhere() -> bool:
            for svc in services.values():
                if not await svc.pool.fetchval(
                    "SELECT count(*) FROM erased_learners WHERE learner_id = $1", learner_id
                ):
                    return False
            return True

        await wait_for(erased_everywhere, what="every service to record the erasure")

        async def class_file_rewritten() -> bool:
            rows = class_rows()
            return len(rows) == 2 and not any(gone.last_name in row for row in rows)

        await wait_for(class_file_rewritten, what="export's class file written again without the learner")

        async def nothing_left() -> dict[str, list[str]]:
            left = {}
            for name, svc in services.items():
                found = [
                    *await rows_holding(svc, gone.ine),
                    *await rows_holding(svc, gone.first_name),
                    *await rows_holding(svc, gone.last_name),
                    *await rows_holding(svc, gone.birth_date.isoformat(), within=learner_id),
                    *await rows_holding(svc, gone.birth_date.strftime("%d/%m/%Y"), within=learner_id),
                ]
                if found:
                    left[name] = found
            return left

        assert await nothing_left() == {}
        assert await counts() == before
        # the other learners are untouched; the erased one's rows remain, blanked
        assert await rows_holding(export, learners[1].last_name)
        assert (
            await scheduler.pool.fetchval(
                "SELECT birthdate FROM candidates WHERE learner_id = $1", learner_id
            )
            == ERASED_BIRTHDATE
        )
        # the cached attendance sheet naming the learner is gone (drawn again when next asked for)
        assert not await scheduler.pool.fetchval(
            "SELECT count(*) FROM rendered_documents WHERE key LIKE 'session:' || $1 || ':%'", sid
        )
        assert (
            await scheduler.http.get(f"/sessions/{sid}/documents/attendance-sheet.pdf")
        ).status_code == 200
        erased_at = {
            name: await svc.pool.fetchval(
                "SELECT erased_at FROM erased_learners WHERE learner_id = $1", learner_id
            )
            for name, svc in services.items()
        }

        # asked again: nothing is raised; the same request redelivered (a new event id) and the
        # learner's events published before the erasure (replayed) change nothing
        again = await eligibility.http.post(f"/schools/{uai}/erasures", json={"learner_id": learner_id})
        assert again.status_code == 200 and again.json()["already_erased"] is True
        assert (
            await eligibility.http.post(f"/schools/{uai}/erasures", json={"ine": gone.ine})
        ).status_code == 404
        [updated] = recorder.of(LearnerRegistered, learner_id=learner_id)
        replayed = LearnerUpdated(**updated.model_dump(), changed_fields=["division"])
        await publish(
            request.model_copy(update={"requested_at": datetime.now(UTC)}), replayed, enrolment, results
        )

        async def replays_applied() -> bool:
            # the replayed enrolment and results are applied once their consumers reach them
            return all(
                [
                    await export.pool.fetchval(
                        "SELECT count(*) FROM inbox WHERE event_type = $1", ResultsProcessed.event_type
                    ) >= 2,
                    await finalisation.pool.fetchval(
                        "SELECT count(*) FROM inbox WHERE event_type = $1", CandidatesEnrolled.event_type
                    ) >= 2,
                    await scheduler.pool.fetchval(
                        "SELECT count(*) FROM inbox WHERE event_type = $1 AND processed_at > $2",
                        LearnerUpdated.event_type, request.requested_at,
                    ) >= 1,
                ]
            )  # fmt: skip

        await wait_for(replays_applied, what="the replayed events to be applied")
        # Pix sending the results again, with the names: the erased candidate's row matches no one
        resent = await finalisation.http.post(
            f"/sessions/{sid}/results", content=results_file, headers={"Content-Type": "text/csv"}
        )
        assert resent.status_code == 200, resent.text
        assert resent.json()["matched"] == 1 and len(resent.json()["unmatched"]) == 1
        assert await nothing_left() == {}
        assert await counts() == before
        assert len(recorder.of(LearnerErasureRequested, learner_id=learner_id)) == 2  # ours + the redelivery
        for name, svc in services.items():
            assert (
                await svc.pool.fetchval(
                    "SELECT erased_at FROM erased_learners WHERE learner_id = $1", learner_id
                )
                == erased_at[name]
            ), f"{name} erased twice"
