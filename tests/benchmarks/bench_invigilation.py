"""Benchmark (not a test): invigilator clicks per second in a 20- and a 200-seat room.

Run: .venv/bin/python tests/benchmarks/bench_invigilation.py   (needs KAFKA_BOOTSTRAP_SERVERS and
DATABASE_URL, e.g. ``. .local/env``; ``--rooms 20,200`` and ``--repeat N`` change what it measures)

The finalisation service runs in-process (without its consumer, so other runs' events on the
shared broker do not count) on a scratch schema of the running infrastructure, as the component
tests start it. For each room size, a session is seeded through the real handlers, the invigilator
logs in, then every candidate gets the day's three clicks in turn over HTTP (presence, start,
complete); the figure is clicks per second over those clicks alone (after one untimed warm-up
room). A click used to lock the session and rewrite every seat of the room (O(room) per click);
issue 10 makes it one row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg
import httpx

from services.finalisation import handlers
from services.finalisation.api_common import DEPENDENCIES
from services.finalisation.app import definition, dependencies
from shared.clock import ManualClock
from shared.contracts.envelope import Envelope
from shared.contracts.events import CandidatesEnrolled, EnrolledCandidate
from shared.db import provision_service
from shared.outbox import unit_of_work
from shared.password_hash import keyed_verifier
from shared.service import create_app
from tests.events import session as session_created

PASSWORD = "B3x7K9!q"
SESSION_DAY = date(2027, 3, 10)
#: 09:00 in Paris on the session day
SESSION_START = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
CLICKS = ("presence", "start", "complete")


def _envelope(event) -> Envelope:
    return Envelope.new(source="/certibus/scheduler", type=event.event_type, subject=event.subject())


async def seed_room(pool: asyncpg.Pool, seats: int, number: int, password_hash: str) -> tuple[str, list[str]]:
    """A session of `seats` enrolled candidates, applied through the real scheduler-event handlers."""
    session_id = str(uuid.uuid4())
    candidates = [
        EnrolledCandidate(
            candidate_id=f"cand-{session_id[:8]}-{i:03d}",
            learner_id=f"learner-{session_id[:8]}-{i:03d}",
            ine=None,
            first_name=f"Élève{i}",
            last_name=f"Nom{i:03d}",
            birthdate=date(2012, 1, 1) + timedelta(days=i),
            division="3A",
        )
        for i in range(seats)
    ]
    created = session_created(
        "0750001A",
        number,
        session_id=session_id,
        room="Salle 12",
        date=SESSION_DAY,
        time="09:00",
        invigilator_password_verifier=password_hash,
        created_at=SESSION_START - timedelta(days=30),
    )
    enrolled = CandidatesEnrolled(
        session_id=session_id, uai="0750001A", candidates=candidates, enrolled_at=SESSION_START
    )
    async with unit_of_work(pool, "finalisation") as uow:
        await handlers.on_session_created(uow, created, _envelope(created))
        await handlers.on_candidates_enrolled(uow, enrolled, _envelope(enrolled))
    return session_id, [c.candidate_id for c in candidates]


async def clicks_per_second(
    http: httpx.AsyncClient, pool: asyncpg.Pool, seats: int, number: int, hashed: str
):
    session_id, candidate_ids = await seed_room(pool, seats, number, hashed)
    login = await http.post("/invigilator/login", json={"session_number": number, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    base = f"/invigilator/sessions/{session_id}/candidates"
    started = time.perf_counter()
    for action in CLICKS:
        for candidate_id in candidate_ids:
            response = await http.post(f"{base}/{candidate_id}/{action}", headers=headers)
            assert response.status_code == 200, response.text
    elapsed = time.perf_counter() - started
    return len(CLICKS) * seats, elapsed


async def main(rooms: list[int], repeat: int) -> None:
    admin = os.environ["DATABASE_URL"]
    schema = f"bench_fin_{uuid.uuid4().hex[:8]}"
    dsn = await provision_service(admin, schema, "bench-pw")
    settings = definition.settings_class(
        database_url=dsn,
        database_schema=schema,
        kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        consumer_group_prefix=schema,
        log_level="WARNING",
    )
    # without its consumer: other runs' scheduler events on the shared broker must not count here
    quiet = replace(
        definition, wire=lambda runtime: runtime.state.update({DEPENDENCIES: dependencies(runtime)})
    )
    app = create_app(quiet, settings)
    hashed = keyed_verifier(PASSWORD, settings.invigilator_password_key.get_secret_value())
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http,
        ):
            runtime = app.state.runtime
            runtime.clock = ManualClock(SESSION_START + timedelta(minutes=5))
            number = 900_000
            await clicks_per_second(http, runtime.pool, 20, number, hashed)  # warm-up, not counted
            for seats in rooms:
                rates = []
                for _ in range(repeat):
                    number += 1
                    clicks, elapsed = await clicks_per_second(http, runtime.pool, seats, number, hashed)
                    rates.append(clicks / elapsed)
                best = max(rates)
                print(
                    f"room of {seats:>3} seats: {len(CLICKS) * seats} clicks (presence, start, complete),"
                    f" best of {repeat}: {best:,.0f} clicks/s = {1000 / best:.2f} ms/click"
                    f" (all runs: {', '.join(f'{r:,.0f}' for r in rates)})"
                )
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
            await conn.execute(f"DROP ROLE certibus_{schema}")
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", default="20,200", help="room sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="rooms of each size (the best run counts)")
    args = parser.parse_args()
    if not (os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS")):
        sys.exit("set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (. .local/env)")
    asyncio.run(main([int(n) for n in args.rooms.split(",")], args.repeat))
