"""``certibus replay SERVICE [--since ISO]``: rebuild a stopped service's read models from its input topics.

It is the REBUILD_READ_MODELS mechanism run by the command: the service's own runtime (migrations,
consumers and handlers, outbox relay, jobs; no HTTP) starts in replay mode, which clears the
tables it derives from consumed events and its inbox and rewinds its consumer groups to the start
of their topics (or to ``--since``: REBUILD_SINCE); the command follows the groups' committed
offsets up to the end offsets the topics had when it started (a rich progress bar on stderr),
stops the runtime gracefully, and prints the digest of the rebuilt state (``certibus digest``).

Every replica of the service must be stopped first: the command refuses (exit 1) while one of its
consumer groups has live members. The service's environment applies (DATABASE_URL, …).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from datetime import datetime

import click
from aiokafka import TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.cli.digest import digest_of, print_digest
from shared.cli.output import OK, PROBLEM, emit_json, exits, json_option, parse_since, run, service_choice
from shared.cli.services import definition
from shared.kafka_admin import group_lag, groups_with_members, list_groups, replay_window
from shared.service import Runtime, create_app


class ReplayFailed(click.ClickException):
    exit_code = PROBLEM


async def _progress(
    runtime: Runtime, windows: dict[str, dict[TopicPartition, tuple[int, int]]]
) -> tuple[int, bool]:
    """Records the groups have committed past their start (capped at the end captured), and whether all are done."""
    consumed, done = 0, True
    bootstrap = runtime.settings.kafka_bootstrap_servers
    for consumer in runtime.consumers:
        window = windows[consumer.group_id]
        for p in await group_lag(bootstrap, consumer.group_id, list(consumer.topics)):
            start, end = window.get(TopicPartition(p.topic, p.partition), (0, p.end))
            committed = start if p.committed is None else p.committed
            consumed += max(0, min(committed, end) - start)
            done = done and committed >= end
    return consumed, done


async def replay_service(service: str, since: datetime | None, timeout_seconds: float, quiet: bool) -> dict:
    found = definition(service)
    try:
        settings = found.settings_class(rebuild_read_models=True, rebuild_since=since)
    except ValueError as exc:  # pydantic's ValidationError names each variable at fault
        raise ReplayFailed(f"{service}: settings refused: {exc}") from None
    bootstrap = settings.kafka_bootstrap_servers
    groups = await list_groups(bootstrap, f"{settings.consumer_group_prefix}.{service}.")
    if active := await groups_with_members(bootstrap, groups):
        raise ReplayFailed(f"{', '.join(active)}: running members; stop every replica of {service} first")
    since_ms = None if since is None else int(since.timestamp() * 1000)
    began = time.monotonic()
    app = create_app(found, settings)
    stderr = Console(stderr=True)
    # the runtime logs on stdout (JSON lines): during a replay they go to stderr, stdout keeps the digest
    with contextlib.redirect_stdout(sys.stderr):
        async with app.router.lifespan_context(app):
            runtime: Runtime = app.state.runtime
            windows = {
                c.group_id: await replay_window(bootstrap, list(c.topics), since_ms)
                for c in runtime.consumers
            }
            total = sum(end - start for w in windows.values() for start, end in w.values())
            with Progress(
                TextColumn(f"replaying {service}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=stderr,
                disable=quiet,
            ) as bar:
                task = bar.add_task("records", total=total)
                while True:
                    consumed, done = await _progress(runtime, windows)
                    bar.update(task, completed=consumed)
                    if done:
                        break
                    if time.monotonic() - began > timeout_seconds:
                        raise ReplayFailed(
                            f"{service}: {consumed}/{total} records after {timeout_seconds:.0f} s; stopped"
                            " (the tables hold a partial rebuild: run the replay again)"
                        )
                    await asyncio.sleep(0.3)
    document = await digest_of(service, settings.database_url, settings.database_schema)
    return {
        "service": service,
        "since": None if since is None else since.isoformat(),
        "records": total,
        "seconds": round(time.monotonic() - began, 3),
        "digest": document,
    }


@click.command()
@click.argument("service", type=service_choice, metavar="SERVICE")
@click.option("--since", callback=parse_since, help="ISO 8601 instant with a zone; default: the beginning")
@click.option("--timeout", "timeout_seconds", type=click.FloatRange(min=1), default=3600, show_default=True)
@json_option
@exits
def replay(service: str, since: datetime | None, timeout_seconds: float, as_json: bool) -> int:
    """Rebuild SERVICE's read models from its input topics (service stopped), then print their digest."""
    result = run(replay_service(service, since, timeout_seconds, quiet=as_json))
    if as_json:
        emit_json(result)
    else:
        click.echo(f"replayed {result['records']} record(s) in {result['seconds']} s")
        print_digest(result["digest"], as_json=False)
    return OK
