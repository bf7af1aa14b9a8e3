"""``certibus digest`` and ``certibus replay`` on real Kafka and Postgres: the export service fed live,
stopped, replayed by the command from its input topics; the digests are equal, and a changed row
changes the digest (a column declared as differing by nature does not).

The topics are shared with every other test, some of which reuse certification ids in sessions of
different partitions: the state built from their whole history depends on how partitions
interleave, live or replayed. So the live service starts in replay mode from an instant taken just
before this test publishes (REBUILD_READ_MODELS with REBUILD_SINCE), and the command replays
``--since`` that same instant: both start at the same offsets.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.export.app import definition as export
from shared.contracts.events import LivretExportProduced
from shared.contracts.topics import EXPORT
from shared.db import create_pool
from shared.kafka_admin import group_lag
from tests.events import Outcome, certification_ids, enrolled, learner, new_uai, results, session
from tests.support import REPO, wait_for

pytestmark = pytest.mark.integration

CERTIBUS = str(Path(sys.executable).parent / "certibus")


async def certibus(env: dict[str, str], *args: str, status: int = 0) -> dict:
    """``certibus … --json`` in the service's environment; the document it prints."""
    proc = await asyncio.create_subprocess_exec(
        CERTIBUS,
        *args,
        "--json",
        cwd=REPO,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode == status, f"exit {proc.returncode}: {err.decode()[-3000:]}"
    return json.loads(out) if status == 0 else {"stderr": err.decode()}


async def caught_up(svc) -> bool:
    for consumer in svc.runtime.consumers:
        lags = await group_lag(
            svc.runtime.settings.kafka_bootstrap_servers, consumer.group_id, list(consumer.topics)
        )
        if not lags or any(p.lag for p in lags):
            return False
    return True


async def test_the_replayed_digest_equals_the_live_one_and_a_changed_row_changes_it(
    start_service, publish, record_events, kafka, tmp_path
):
    since = datetime.now(UTC) - timedelta(seconds=1)
    svc = await start_service(
        export,
        export_output_dir=tmp_path / "live",
        export_rebuild_interval_seconds=0.3,
        rebuild_read_models=True,
        rebuild_since=since,
    )
    iso = since.isoformat()
    uai = new_uai()
    ana = learner(uai, "ana", first_name="Ana", last_name="Martin")
    leo = learner(uai, "leo", first_name="Léo", last_name="Petit", division="3B")
    s1 = session(uai, number=9101)
    first, second = certification_ids(2)
    async with record_events([EXPORT]) as recorder:
        await publish(ana, leo, s1, enrolled(s1, ana, leo))
        await publish(
            results(
                s1, Outcome(ana, first, pix_score=300, levels={"1.1": 2}), Outcome(leo, second, pix_score=150)
            )
        )
        await recorder.wait_for(LivretExportProduced, uai=uai)
    await wait_for(lambda: caught_up(svc), what="the live service to catch up")
    settings = svc.runtime.settings
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": settings.database_url,
        "DATABASE_SCHEMA": svc.schema,
        "CONSUMER_GROUP_PREFIX": svc.schema,
        "EXPORT_OUTPUT_DIR": str(tmp_path / "replayed"),
        "LOG_FORMAT": "console",
    }
    refused = await certibus(env, "replay", "export", "--since", iso, status=1)  # the service still runs
    assert "stop every replica of export first" in refused["stderr"], refused["stderr"][-1500:]

    await svc.stop()
    live = await certibus(env, "digest", "export")
    assert live["service"] == "export" and live["schema"] == svc.schema
    assert set(live["tables"]) == {"learners", "sessions", "candidates", "results"}
    assert live["ignored_tables"] == ["exports", "stale_classes"]
    assert live["tables"]["learners"]["ignored_columns"] == ["updated_at"]
    assert live["tables"]["results"]["rows"] >= 2 and live["tables"]["learners"]["rows"] >= 2

    replayed = await certibus(env, "replay", "export", "--since", iso)
    assert replayed["since"] == iso and replayed["to_end"] is False
    assert replayed["records"] >= 5  # two learners, a session, an enrolment, a results batch … at least
    assert replayed["digest"] == live
    assert await certibus(env, "digest", "export") == live
    # the groups stand where the replay stopped: a restarted service carries on from there
    stops = {(r["topic"], r["partition"]): r["stop"] for rows in replayed["groups"].values() for r in rows}
    assert stops and all(stop >= 0 for stop in stops.values())

    pool = await create_pool(settings.database_url, svc.schema, 2)
    try:
        # a column that differs by nature between a live run and a replay is not in the digest
        await pool.execute(
            "UPDATE learners SET updated_at = updated_at - interval '1 day' WHERE uai = $1", uai
        )
        assert await certibus(env, "digest", "export") == live
        # a changed row is
        await pool.execute("UPDATE results SET pix_score = pix_score + 1 WHERE certification_id = $1", first)
    finally:
        await pool.close()
    changed = await certibus(env, "digest", "export")
    assert changed["digest"] != live["digest"]
    assert changed["tables"]["results"]["sha256"] != live["tables"]["results"]["sha256"]
    assert changed["tables"]["results"]["rows"] == live["tables"]["results"]["rows"]
    assert {t: v for t, v in changed["tables"].items() if t != "results"} == {
        t: v for t, v in live["tables"].items() if t != "results"
    }

    # and a replay repairs it: back to the live digest
    assert (await certibus(env, "replay", "export", "--since", iso))["digest"] == live
