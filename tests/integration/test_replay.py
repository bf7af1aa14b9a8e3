"""Replay: a service rebuilt from its input topics (REBUILD_READ_MODELS) equals the state built live."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from services.export.app import definition as export
from shared.contracts.events import LivretExportProduced
from shared.contracts.topics import EXPORT
from shared.kafka_admin import group_lag
from tests.events import (
    Outcome,
    certification_ids,
    enrolled,
    learner,
    new_uai,
    results,
    session,
)
from tests.support import wait_for

pytestmark = pytest.mark.integration

READ_MODELS = {
    "learners": "learner_id",
    "sessions": "session_id",
    "candidates": "candidate_id",
    "results": "certification_id",
}


async def snapshot(svc, uai: str) -> dict[str, list]:
    """The school's rows in every read model, without bookkeeping columns that record *when*."""
    rows = {}
    for table, key in READ_MODELS.items():
        columns = [
            r["column_name"]
            for r in await svc.pool.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2"
                " ORDER BY ordinal_position",
                svc.schema,
                table,
            )
            if not r["column_name"].endswith(("_recorded_at", "updated_at", "received_at"))
        ]
        query = f"SELECT {', '.join(columns)} FROM {table} WHERE uai = $1 ORDER BY {key}"
        rows[table] = [tuple(r) for r in await svc.pool.fetch(query, uai)]
    return rows


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*"))}


async def caught_up(svc) -> bool:
    for consumer in svc.runtime.consumers:
        lags = await group_lag(
            svc.runtime.settings.kafka_bootstrap_servers, consumer.group_id, list(consumer.topics)
        )
        if not lags or any(p.lag for p in lags):
            return False
    return True


async def test_export_rebuilt_from_its_topics_equals_the_state_built_live(
    start_service,
    publish,
    record_events,
    tmp_path,
):
    live_dir, replay_dir = tmp_path / "live", tmp_path / "replayed"
    svc = await start_service(export, export_output_dir=live_dir, export_rebuild_interval_seconds=0.3)
    uai = new_uai()
    ana = learner(uai, "ana", first_name="Ana", last_name="Martin")
    leo = learner(uai, "leo", first_name="Léo", last_name="Petit", division="3B")
    s1 = session(uai, number=9001)
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
    live_rows, live_files = await snapshot(svc, uai), digests(live_dir / uai)
    assert live_rows["results"] and live_files
    await svc.stop()

    replayed = await start_service(
        export,
        schema=svc.schema,
        rebuild_read_models=True,
        export_output_dir=replay_dir,
        export_rebuild_interval_seconds=0.3,
    )
    await wait_for(lambda: caught_up(replayed), seconds=90, what="the replay to reach the end of the topics")
    await wait_for(lambda: _files_like(replay_dir / uai, live_files), what="the replayed files")
    assert await snapshot(replayed, uai) == live_rows
    assert digests(replay_dir / uai) == live_files


async def _files_like(folder: Path, expected: dict[str, str]) -> bool:
    return await asyncio.to_thread(lambda: folder.exists() and digests(folder) == expected)
