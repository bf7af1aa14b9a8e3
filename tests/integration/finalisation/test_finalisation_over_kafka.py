"""The finalisation service over real Kafka and Postgres: scheduler events in, SessionFinalised and
ResultsProcessed out, a duplicate import silent, and the Pix sandbox as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from deploy.pix_sandbox.generator import certification_id_for
from services.finalisation.app import definition
from shared.contracts.events import CandidateUnenrolled, ResultsProcessed, SessionFinalised, SessionUpdated
from shared.contracts.topics import FINALISATION
from tests.component.finalisation.finalisation_support import (
    PASSWORD,
    Invigilator,
    class_csv,
    csv_line,
    finalisation_body,
    password_hash,
    session_events,
)
from tests.serving import served
from tests.support import REPO, wait_for

pytestmark = pytest.mark.integration


async def enrolled_count(svc, session_id: str) -> int:
    return await svc.pool.fetchval(
        "SELECT count(*) FROM candidates WHERE session_id = $1 AND unenrolled_at IS NULL", session_id
    )


async def test_from_scheduler_events_to_results_processed(start_service, publish, record_events):
    svc = await start_service(definition)
    session = session_events(3)
    async with record_events([FINALISATION]) as recorder:
        await publish(session.created, session.enrolled)

        async def enrolled() -> bool:
            return await enrolled_count(svc, session.session_id) == 3

        await wait_for(enrolled, what="the enrolled candidates in the read model")

        invigilator = Invigilator(svc.http, session)
        login = await invigilator.log_in(f"C-{PASSWORD}")
        assert login.status_code == 200, login.text
        await invigilator.take_test(0)
        await invigilator.start(1)
        finalised = await svc.http.put(
            f"/sessions/{session.session_id}/finalisation",
            json=finalisation_body(session, {0: None, 1: "candidate"}, comment="Alarme incendie à 10 h"),
        )
        assert finalised.status_code == 200, finalised.text

        [event] = await recorder.wait_for(SessionFinalised, session_id=session.session_id)
        assert (event.session_number, event.uai) == (session.session_number, session.uai)
        assert event.examiner_global_comment == "Alarme incendie à 10 h" and not event.is_publishable
        states = {c.candidate_id: (c.present, c.test_state, c.abort_reason) for c in event.candidates}
        assert states == {
            session.candidate(0).candidate_id: (True, "completed", None),
            session.candidate(1).candidate_id: (True, "ended_due_to_finalisation", "candidate"),
            session.candidate(2).candidate_id: (False, "not_started", None),
        }

        data = class_csv(
            csv_line(5001, session.candidate(0), session.session_number, score=300),
            csv_line(5002, session.candidate(1), session.session_number, score=90),
        )
        url = f"/sessions/{session.session_id}/results"
        first = await svc.http.post(url, content=data, headers={"Content-Type": "text/csv"})
        assert first.status_code == 200 and first.json()["unchanged"] is False
        [results] = await recorder.wait_for(ResultsProcessed, session_id=session.session_id)
        assert {r.candidate_id: r.global_level for r in results.results} == {
            session.candidate(0).candidate_id: "LEVEL_INDEPENDENT_3",
            session.candidate(1).candidate_id: "LEVEL_BEGINNER_1",
        }
        assert results.results_sha256 == first.json()["sessions"][0]["results_sha256"]

        again = await svc.http.post(url, content=data, headers={"Content-Type": "text/csv"})
        assert again.status_code == 200 and again.json()["unchanged"] is True
        await asyncio.sleep(3)  # several relay polls: anything raised would be on the topic by now
        assert len(recorder.of(ResultsProcessed, session_id=session.session_id)) == 1


async def test_scheduler_updates_and_unenrolments_reach_the_room(start_service, publish):
    svc = await start_service(definition)
    session = session_events(3)
    leaver = session.candidate(2)
    new_password = "Q9w8E7r6"
    updated = SessionUpdated(
        **session.created.model_dump(exclude={"created_at", "invigilator_password_verifier"}),
        invigilator_password_verifier=password_hash(new_password),
        changed_fields=["invigilator_password"],
        updated_at=datetime.now(UTC),
    )
    unenrolled = CandidateUnenrolled(
        session_id=session.session_id,
        uai=session.uai,
        candidate_id=leaver.candidate_id,
        learner_id=leaver.learner_id,
        unenrolled_at=datetime.now(UTC),
    )
    await publish(session.created, session.enrolled, unenrolled, updated)

    async def applied() -> bool:
        hash_now = await svc.pool.fetchval(
            "SELECT invigilator_password_hash FROM sessions WHERE session_id = $1", session.session_id
        )
        return (
            hash_now == updated.invigilator_password_verifier
            and await enrolled_count(svc, session.session_id) == 2
        )

    await wait_for(applied, what="the update and the unenrolment")

    invigilator = Invigilator(svc.http, session)
    assert (await invigilator.log_in(f"C-{PASSWORD}")).status_code == 401
    assert (await invigilator.log_in(f"C-{new_password}")).status_code == 200
    room = (await invigilator.room()).json()
    assert {c["candidate_id"] for c in room["candidates"]} == {
        session.candidate(0).candidate_id,
        session.candidate(1).candidate_id,
    }


def start_sandbox(log_path, **env: str) -> subprocess.Popen:
    """``python -m deploy.pix_sandbox`` as a real process, its JSON log lines in ``log_path``."""
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "deploy.pix_sandbox"],
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )


def stop_sandbox(sandbox: subprocess.Popen) -> None:
    sandbox.terminate()
    sandbox.wait(10)


async def test_the_pix_sandbox_process_delivers_results_through_the_intake(
    start_service, publish, kafka, record_events, tmp_path
):
    svc = await start_service(definition)
    session = session_events(3)
    log_path = tmp_path / "pix_sandbox.log"
    async with served(lambda _url: svc.app, lifespan="off") as url, record_events([FINALISATION]) as recorder:
        sandbox = start_sandbox(
            log_path,
            KAFKA_BOOTSTRAP_SERVERS=kafka,
            FINALISATION_URL=url,
            PIX_SANDBOX_GROUP_ID=f"it-pix-sandbox-{uuid.uuid4().hex[:8]}",
            PIX_SANDBOX_DELAY_SECONDS="1",
        )
        try:
            await publish(session.created, session.enrolled)

            async def enrolled() -> bool:
                return await enrolled_count(svc, session.session_id) == 3

            await wait_for(enrolled, what="the enrolled candidates")
            invigilator = Invigilator(svc.http, session)
            assert (await invigilator.log_in()).status_code == 200
            await invigilator.take_test(0)
            await invigilator.take_test(1)
            finalised = await svc.http.put(
                f"/sessions/{session.session_id}/finalisation",
                json=finalisation_body(session, {0: None, 1: None}),
            )
            assert finalised.status_code == 200, finalised.text
            finalised_seen = datetime.now(UTC)

            [results] = await recorder.wait_for(ResultsProcessed, session_id=session.session_id, seconds=60)
            assert (datetime.now(UTC) - finalised_seen).total_seconds() >= 0.9  # the processing delay
            assert results.source == "livret_json"
            [done] = await recorder.wait_for(SessionFinalised, session_id=session.session_id, seconds=5)
            payload = json.loads(done.model_dump_json())
            present = [c for c in payload["candidates"] if c["present"] and c["started_at"]]
            assert len(present) == 2
            assert sorted((r.candidate_id, r.certification_id) for r in results.results) == sorted(
                (c["candidate_id"], certification_id_for(payload, c)) for c in present
            )
            for result in results.results:
                assert result.status in ("validated", "rejected")
                assert result.verification_code and result.verification_code.startswith("P-")
                if result.status == "validated":
                    assert result.global_level is not None and result.pix_score >= 64

            imports = await svc.pool.fetch(
                "SELECT source, file_name FROM results_imports WHERE session_id = $1", session.session_id
            )
            assert [(r["source"], r["file_name"]) for r in imports] == [
                ("livret_json", f"pix_sandbox_{session.session_id}.json")
            ]

            def delivered() -> list[dict]:
                lines = [
                    json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")
                ]
                return [
                    line
                    for line in lines
                    if line.get("event") == "results delivered"
                    and line.get("session_id") == session.session_id
                ]

            async def logged() -> bool:
                return bool(delivered())

            await wait_for(logged, seconds=10, what="the sandbox to log the delivery")
            assert delivered()[0]["matched"] == 2
        finally:
            stop_sandbox(sandbox)
