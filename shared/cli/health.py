"""``certibus health``: every service's ``/ready``, its consumer lag and its outbox age, in one table.

The services are found at SCHEDULER_URL, ELIGIBILITY_URL, FINALISATION_URL and EXPORT_URL (the
ports deploy/local/stack.py gives them by default). Exit 1 unless every service answers ``ready``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click
import httpx

from shared.cli.lag import lag_rows
from shared.cli.output import OK, PROBLEM, emit_json, exits, json_option, run, settings, table
from shared.contracts.topics import SERVICES
from shared.settings import OperatorSettings


async def ready(client: httpx.AsyncClient, service: str, url: str) -> dict[str, Any]:
    """What ``/ready`` says, or why it could not be asked."""
    try:
        reply = await client.get(f"{url}/ready")
        body = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        return {"status": "unreachable", "http_status": None, "error": f"{type(exc).__name__}: {exc}"}
    outbox = body.get("outbox") or {}
    return {
        "status": body.get("status", "unknown"),
        "http_status": reply.status_code,
        "checks": body.get("checks"),
        "relay_active": body.get("relay_active"),
        "outbox_unpublished": outbox.get("unpublished"),
        "outbox_oldest_age_seconds": outbox.get("oldest_unpublished_age_seconds"),
        "reasons": body.get("reasons", []),
    }


async def health_report(s: OperatorSettings) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=s.health_timeout_seconds) as client:
        answers = await asyncio.gather(*(ready(client, svc, s.service_url(svc)) for svc in SERVICES))
    try:
        lags: dict[str, int | None] = dict.fromkeys(SERVICES, 0)
        for row in await lag_rows(s.kafka_bootstrap_servers, s.consumer_group_prefix, None):
            owner = row["group"][len(s.consumer_group_prefix) + 1 :].split(".", 1)[0]
            if owner in lags:
                lags[owner] = (lags[owner] or 0) + row["lag"]
        broker_error = None
    except Exception as exc:  # the broker is down: say so in the table, the /ready answers still count
        lags, broker_error = dict.fromkeys(SERVICES), f"{type(exc).__name__}: {exc}"
    return [
        {"service": svc, "url": s.service_url(svc), **answer, "lag": lags[svc], "lag_error": broker_error}
        for svc, answer in zip(SERVICES, answers, strict=True)
    ]


@click.command()
@json_option
@exits
def health(as_json: bool) -> int:
    """Readiness, consumer lag and outbox age of every service (exit 1 unless all are ready)."""
    report = run(health_report(settings()))
    healthy = all(r["status"] == "ready" for r in report)
    if as_json:
        emit_json({"healthy": healthy, "services": report})
    else:
        table(
            "certibus health" + ("" if healthy else ": NOT all ready"),
            ["service", "url", "status", "lag", "outbox rows", "oldest (s)", "relay", "why"],
            [
                [
                    r["service"],
                    r["url"],
                    r["status"],
                    r["lag"],
                    r.get("outbox_unpublished"),
                    r.get("outbox_oldest_age_seconds"),
                    r.get("relay_active"),
                    "; ".join(r.get("reasons") or []) or r.get("error") or r.get("lag_error"),
                ]
                for r in report
            ],
        )
    return OK if healthy else PROBLEM
