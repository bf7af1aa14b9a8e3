"""What the main job shows while it runs and leaves behind: progress bars, the phase table, summary.json.

A run of 200,000 candidates lasts long enough that "nothing on screen" reads as "stuck" (issue 10):
each phase gets a rich progress bar with its count and rate. rich's defaults decide how it renders:
on a terminal the bars refresh in place; when stdout is not a terminal (CI logs, a pipe) rich draws
no live display, so the log keeps only the lines the driver prints and the final table.
The summary (per phase: seconds, items, rate; events published per topic; files written) is printed
as a table and written to summary.json beside the outputs, so two runs can be compared by file.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from shared.contracts.topics import all_topics
from shared.kafka_admin import end_offsets


@dataclass
class PhaseTiming:
    """One phase of the year: how long it took and how many items (students, sessions…) it handled."""

    name: str
    unit: str
    items: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Items per second (0 for a phase that took no measurable time)."""
        return self.items / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "phase": self.name,
            "unit": self.unit,
            "items": self.items,
            "seconds": round(self.seconds, 2),
            "per_second": round(self.rate, 1),
        }


class RateColumn(ProgressColumn):
    """Items per second of a task, in its own unit (rich's speed column speaks bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            f"{speed:,.1f} {task.fields.get('unit', '')}/s" if speed else "", style="progress.data.speed"
        )


@dataclass
class Reporter:
    """Progress bars and phase timings of one run; `console` prints above the bars."""

    console: Console = field(default_factory=lambda: Console(width=None if sys.stdout.isatty() else 120))
    phases: list[PhaseTiming] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )

    def log(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    @contextmanager
    def phase(self, name: str, total: int, unit: str) -> Iterator[PhaseStep]:
        """Time a phase and show its bar; the body calls the step with how many items it finished."""
        timing = PhaseTiming(name, unit)
        task = self.progress.add_task(name, total=total, unit=unit)
        started = time.monotonic()

        def advance(items: int = 1) -> None:
            timing.items += items
            self.progress.advance(task, items)

        try:
            yield advance
        finally:
            timing.seconds = time.monotonic() - started
            self.progress.update(task, completed=timing.items)
            self.phases.append(timing)

    def __enter__(self) -> Reporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


PhaseStep = Any  # Callable[[int], None]: advances the current phase's bar


async def topic_end_offsets(bootstrap_servers: str) -> dict[str, int]:
    """The end offset of every certibus topic, summed over its partitions (records ever written)."""
    topics = sorted(topic.name for topic in all_topics())
    totals = dict.fromkeys(topics, 0)
    for tp, offset in (await end_offsets(bootstrap_servers, topics)).items():
        totals[tp.topic] += offset
    return totals


def events_published(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Records written to each topic between two snapshots (topics created meanwhile start at 0)."""
    published = {topic: end - before.get(topic, 0) for topic, end in sorted(after.items())}
    return {topic: count for topic, count in published.items() if count}


def files_written(output: Path) -> dict[str, dict[str, int]]:
    """Per top-level folder of the output: how many files and bytes."""
    folders: dict[str, dict[str, int]] = {}
    for path in sorted(output.rglob("*")):
        if path.is_file():
            parts = path.relative_to(output).parts
            folder = parts[0] if len(parts) > 1 else "."
            entry = folders.setdefault(folder, {"files": 0, "bytes": 0})
            entry["files"] += 1
            entry["bytes"] += path.stat().st_size
    return folders


def summary_table(summary: dict[str, Any]) -> Table:
    """The phases, the events per topic and the files, as one table for the end of the run."""
    table = Table(title=f"académie run: {summary['seconds']} s", show_lines=False)
    for column in ("", "count", "seconds", "per second"):
        table.add_column(column, justify="left" if not column else "right")
    for phase in summary["phases"]:
        table.add_row(
            f"{phase['phase']} ({phase['unit']})",
            f"{phase['items']:,}",
            f"{phase['seconds']:.1f}",
            f"{phase['per_second']:,.1f}",
        )
    table.add_section()
    for topic, count in summary.get("events_per_topic", {}).items():
        table.add_row(f"events on {topic}", f"{count:,}", "", "")
    table.add_section()
    for folder, entry in summary.get("files", {}).items():
        table.add_row(f"files in {folder}/", f"{entry['files']:,}", "", f"{entry['bytes'] / 1e6:,.1f} MB")
    return table


def academie_table(summary: dict[str, Any]) -> Table:
    """The académie view's summary (``GET /academie/summary``): a line per step of the Phase 3 card
    with the schools that reached it, the schools stopped at it and the sessions that reached it."""
    rate = summary["certifiability_rate"]
    table = Table(
        title=f"académie view: {summary['schools']:,} schools, {summary['sessions']:,} sessions,"
        f" {summary['candidates']:,} candidates",
        caption=f"certifiable {summary['certifiable']:,} of {summary['learners']:,} learners"
        + (f" ({rate:.1%})" if rate is not None else "")
        + f"; {summary['overdue_sessions']:,} overdue finalisation(s) in {summary['schools_overdue']:,} school(s)",
    )
    for column in ("step", "schools reached", "schools stopped here", "sessions"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for step in summary["steps"]:
        sessions = "" if step["step"] == "livret" else f"{step['sessions']:,}"
        table.add_row(step["label"], f"{step['reached']:,}", f"{step['current']:,}", sessions)
    table.add_section()
    table.add_row("terminé (every step)", f"{summary['done']:,}", "", "")
    table.add_row("results received", f"{summary['results']:,}", "", "")
    return table
