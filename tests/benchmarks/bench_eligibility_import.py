"""Benchmark (not a test): the whole eligibility import path on real Postgres, 50k rows each.

Parse + validate + diff/match + store + outbox rows, each import in one transaction, exactly as the
HTTP endpoints run it (`usecases.rosters.import_roster` / `usecases.campaigns.import_campaign`).
The outbox is not relayed here, so the benchmark does not flood the shared Kafka topics with 150k events.

Run: . .local/env && .venv/bin/python tests/benchmarks/bench_eligibility_import.py [learners]
Target: each import under 10 s on the 2-core dev machine.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg

from deploy.local.generator import (
    campaign_csv_bytes,
    generate_learners,
    generate_participations,
    learner_csv_bytes,
    siecle_xml_bytes,
)
from services.eligibility.app import definition
from services.eligibility.domain.tabular import MAX_FILE_BYTES
from services.eligibility.store import transactions
from services.eligibility.usecases.campaigns import import_campaign
from services.eligibility.usecases.rosters import import_roster
from shared.db import create_pool, migrate, provision_service
from shared.outbox import unit_of_work

UAI = "0211089V"


async def timed(label: str, rows: int, size: int, action) -> object:
    started = time.perf_counter()
    result = await action()
    elapsed = time.perf_counter() - started
    print(
        f"{label:<44} {rows:>7} rows {size / 1_048_576:6.1f} MB {elapsed:7.2f} s {rows / elapsed:>9,.0f} rows/s",
        flush=True,
    )
    return result


async def main(count: int) -> None:
    admin = os.environ["DATABASE_URL"]
    schema = f"bench_elig_{uuid.uuid4().hex[:8]}"
    dsn = await provision_service(admin, schema, "bench-pw")
    pool = await create_pool(dsn, schema, 4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, schema, definition.migrations)
        begin = transactions(lambda: unit_of_work(pool, "eligibility"))
        now = datetime(2025, 12, 1, 9, tzinfo=UTC)
        learners = generate_learners(2026, count)
        roster_csv = learner_csv_bytes(learners)
        moved = [replace(x, division="3Z") if i % 20 == 0 else x for i, x in enumerate(learners)]
        reimport = learner_csv_bytes(moved[: count - count // 50])  # 5% move, 2% leave
        roster_xml = siecle_xml_bytes(learners, UAI)
        export = campaign_csv_bytes(generate_participations(2027, learners))
        print(f"python {sys.version.split()[0]}, {count} learners, schema {schema}")

        async def roster(file_name: str, data: bytes):
            return await import_roster(
                begin, uai=UAI, file_name=file_name, data=data, now=now, max_bytes=MAX_FILE_BYTES
            )

        first = await timed(
            "roster CSV, first import (all registered)",
            count,
            len(roster_csv),
            lambda: roster("eleves.csv", roster_csv),
        )
        assert first.registered == count, first
        again = await timed(
            "roster CSV re-import (5% moves, 2% leave)",
            count,
            len(reimport),
            lambda: roster("eleves-v2.csv", reimport),
        )
        assert again.class_changes > 0 and again.deactivated == count // 50, again
        xml = await timed(
            "SIECLE XML re-import (2% come back)",
            count,
            len(roster_xml),
            lambda: roster("ElevesSansAdresses.xml", roster_xml),
        )
        assert xml.reactivated == count // 50, xml
        campaign = await timed(
            "campaign export (match, assess, store)",
            count,
            len(export),
            lambda: import_campaign(
                begin,
                uai=UAI,
                file_name="export.csv",
                data=export,
                external_id_column=None,
                now=now,
                max_bytes=MAX_FILE_BYTES,
            ),
        )
        assert campaign.matched == count, campaign.matched
        outbox = await pool.fetchval("SELECT count(*) FROM outbox")
        print(f"outbox rows written in those transactions: {outbox}")
    finally:
        await pool.close()
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
            await conn.execute(f"DROP ROLE certibus_{schema}")
        finally:
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
