"""What every ``certibus`` command shares: settings, ``--json``, rich tables, exit codes, ``--since``.

Exit codes: 0 ok, 1 a problem found (not ready, dead letters with ``--fail-if-any``, a missing topic, a
failed replay), 2 a usage error (click's own). Human output is a rich table on stdout; ``--json``
prints one JSON document on stdout instead, with the keys documented in docs/runbooks.md.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from shared.contracts.topics import SERVICES
from shared.settings import OperatorSettings

OK, PROBLEM, USAGE = 0, 1, 2
T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True, help="one JSON document on stdout, for scripts")
service_choice = click.Choice(SERVICES)


def console() -> Console:
    """stdout; a terminal's width, or wide enough when piped that ids are never folded."""
    return Console(width=None if sys.stdout.isatty() else 400)


def settings() -> OperatorSettings:
    return OperatorSettings()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=str))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):  # ids stay whole; the last column (errors, reasons) folds
        last = i == len(columns) - 1
        grid.add_column(column, overflow="fold" if last else "ellipsis", no_wrap=not last)
    for row in rows:
        grid.add_row(*("-" if v is None else str(v) for v in row))
    console().print(grid)


def parse_since(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> datetime | None:
    """``--since``: an ISO 8601 instant with its zone (``2027-03-01T00:00:00Z``); anything else is a usage error."""
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 instant (2027-03-01T00:00:00Z)") from None
    if instant.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no zone: add Z or +01:00")
    return instant


def since_ms(instant: datetime | None) -> int | None:
    return None if instant is None else int(instant.timestamp() * 1000)


def exits(command: Callable[..., int | None]) -> Callable[..., None]:
    """A command returns its exit code (None: 0); click turns it into the process's status."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        code = command(*args, **kwargs)
        if code:
            raise SystemExit(code)

    return wrapper
