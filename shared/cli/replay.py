"""``certibus replay SERVICE [--since ISO] [--to-end]``: rebuild a stopped service's read models.

The service's own consumers re-apply its input topics (shared/replay.py: the REBUILD_READ_MODELS
steps, bounded): from the beginning, or from ``--since``, up to the offsets its consumer groups had
committed (what the live state had applied, so that the digest can be compared with the one taken
before), or with ``--to-end`` up to the topics' current end. A rich progress bar on stderr counts
records applied against records planned; then the digest of the rebuilt state is printed
(``certibus digest``). Restarted, the service carries on from where the replay stopped.

Every replica must be stopped first: the command refuses (exit 1) while one of the service's
consumer groups has live members. It reads the service's environment (DATABASE_URL, …).
"""

from __future__ import annotations

import contextlib
import sys
import time
from datetime import datetime

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.cli.digest import digest_of, print_digest
from shared.cli.output import OK, PROBLEM, emit_json, exits, json_option, parse_since, run, service_choice
from shared.cli.services import definition
from shared.kafka_admin import groups_with_members, list_groups
from shared.logging import configure_logging
from shared.replay import plan_replay, replay, service_runtime


class ReplayRefused(click.ClickException):
    exit_code = PROBLEM


async def replay_service(service: str, since: datetime | None, to_end: bool, quiet: bool) -> dict:
    found = definition(service)
    try:
        settings = found.settings_class(rebuild_read_models=True, rebuild_since=since)
    except ValueError as exc:  # pydantic's ValidationError names each variable at fault
        raise ReplayRefused(f"{service}: settings refused: {exc}") from None
    bootstrap = settings.kafka_bootstrap_servers
    groups = await list_groups(bootstrap, f"{settings.consumer_group_prefix}.{service}.")
    if active := await groups_with_members(bootstrap, groups):
        raise ReplayRefused(f"{', '.join(active)}: running members; stop every replica of {service} first")
    began = time.monotonic()
    # the service logs JSON lines; during a replay they go to stderr, stdout keeps the digest
    with contextlib.redirect_stdout(sys.stderr):
        configure_logging(service, settings.log_level, settings.log_format)
        async with service_runtime(found, settings) as runtime:
            since_ms = None if since is None else int(since.timestamp() * 1000)
            plans = await plan_replay(runtime, since_ms, to_end)
            total = sum(plan.records for plan in plans)
            with Progress(
                TextColumn(f"replaying {service}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                disable=quiet,
            ) as bar:
                task = bar.add_task("records", total=total)
                await replay(runtime, plans, lambda n: bar.advance(task, n))
    document = await digest_of(service, settings.database_url, settings.database_schema)
    return {
        "service": service,
        "since": None if since is None else since.isoformat(),
        "to_end": to_end,
        "records": total,
        "groups": {
            plan.consumer.group_id: [
                {"topic": tp.topic, "partition": tp.partition, "start": start, "stop": stop}
                for tp, (start, stop) in sorted(plan.window.items())
            ]
            for plan in plans
        },
        "seconds": round(time.monotonic() - began, 3),
        "digest": document,
    }


@click.command(name="replay")
@click.argument("service", type=service_choice, metavar="SERVICE")
@click.option("--since", callback=parse_since, help="ISO 8601 instant with a zone; default: the beginning")
@click.option("--to-end", is_flag=True, help="up to the topics' end, not to where the groups had committed")
@json_option
@exits
def replay_command(service: str, since: datetime | None, to_end: bool, as_json: bool) -> int:
    """Rebuild SERVICE's read models from its input topics (service stopped), then print their digest."""
    result = run(replay_service(service, since, to_end, quiet=as_json))
    if as_json:
        emit_json(result)
    else:
        click.echo(f"replayed {result['records']} record(s) in {result['seconds']} s")
        print_digest(result["digest"], as_json=False)
    return OK
