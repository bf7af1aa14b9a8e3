"""What may differ between two main-job runs of one seed, in ONE place, and the comparison that uses it.

Two runs with the same ``--seed`` must write the same files byte for byte (issue 11 item 1), except
for what is by nature the run's own: its day and times, and the credentials the scheduler draws for
each session (a password derived from a seed would be a password anyone can compute). Everything
else, a changed byte included, is a difference. The run-time fields:

- the **run's day** (read from the export files' ``YYYYMMDD_`` prefix): in file names, and wherever
  it is written as ``DD/MM/YYYY`` or ``YYYY-MM-DD[Thh:mm:ss…]`` (the day the tests were taken is the
  day of the run: the CSVs' date of passage, the attestations' "passée le");
- the livret JSON's ``deliveredAt`` (finalisation + Pix's processing time) and ``date`` (when the
  test started);
- in the session bundles, the invigilator password (``C-xxxxxx``) and the candidates' access code;
- the run's own report: ``summary.json`` (timings) and ``logs/``, which are not compared.

PDFs are compared by their decompressed content streams (reportlab's invariant mode makes the rest
stable), zips member by member, in their order.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pypdf

#: the run's report, not its output
NOT_COMPARED = ("logs/", "summary.json")
#: an export file's name starts with the day it was written: ``20261203_resultats_3A.csv``
RUN_DAY_PREFIX = re.compile(r"^(\d{4})(\d{2})(\d{2})_")
#: livret JSON keys whose value is a time of the run
RUN_TIME_JSON_KEYS = ("deliveredAt", "date")
#: class CSV columns whose value is the run's day
RUN_TIME_CSV_COLUMNS = ("Date de passage de la certification",)
#: the scheduler's per-session credentials as PDF string operands: ``(C-Pcf!QV)`` and ``(QYCV88)``
SESSION_SECRETS = (
    re.compile(rb"\(C-(?:\\.|[^\\)]){6}\)"),
    re.compile(rb"\([BCDFGHJKMPQRTVWXY]{4}[2346789]{2}\)"),
)
PLACEHOLDER = b"<run>"


@dataclass(frozen=True)
class Difference:
    """One file that differs between two outputs: its normalised path and how."""

    path: str
    kind: str  # "only in a" | "only in b" | "content"
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}{f' ({self.detail})' if self.detail else ''}"


def run_days(output: Path) -> set[tuple[str, str, str]]:
    """The days (year, month, day) the run wrote its exports on, from their file names."""
    days = set()
    for path in output.rglob("*"):
        match = RUN_DAY_PREFIX.match(path.name)
        if match and path.is_file():
            days.add(match.groups())
    return days


def around_midnight(days: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """The run's days and the day before each: file names carry the Paris day, some contents the
    UTC one, which is the day before between midnight and 01:00 (02:00 in summer) Paris time; and
    two runs compared may fall either side of midnight (a fresh-clone run did, 2026-12-04 23:00 UTC)."""
    wider = set(days)
    for year, month, day in days:
        before = date(int(year), int(month), int(day)) - timedelta(days=1)
        wider.add((f"{before.year:04d}", f"{before.month:02d}", f"{before.day:02d}"))
    return wider


def normalised_name(relative: str) -> str:
    """A file's path without the run's day in its name."""
    parent, _, name = relative.rpartition("/")
    name = RUN_DAY_PREFIX.sub("", name)
    return f"{parent}/{name}" if parent else name


def _mask_days(data: bytes, days: set[tuple[str, str, str]]) -> bytes:
    for year, month, day in days:
        iso = rf"{year}-{month}-{day}(?:T[0-9:.]+(?:Z|[+-]\d\d:\d\d)?)?".encode()
        data = re.sub(iso, PLACEHOLDER, data)
        data = data.replace(f"{day}/{month}/{year}".encode(), PLACEHOLDER)
    return data


def _normalise_json(data: bytes) -> bytes:
    for key in RUN_TIME_JSON_KEYS:
        data = re.sub(rb'("' + key.encode() + rb'":\s*)"[^"]*"', rb'\1"<run>"', data)
    return data


def _normalise_csv(data: bytes) -> bytes:
    """Blank the run-time columns, found by header; the other bytes of each line stay as they are."""
    lines = data.split(b"\n")
    header = lines[0].decode("utf-8-sig", errors="replace").rstrip("\r").split(";")
    names = [h.strip('"') for h in header]
    for column in RUN_TIME_CSV_COLUMNS:
        if column not in names:
            continue
        after = len(names) - 1 - names.index(column)  # columns after it (none contain ";")
        for i in range(1, len(lines)):
            parts = lines[i].rsplit(b";", after + 1)
            if len(parts) == after + 2:
                end = b"\r" if parts[1].endswith(b"\r") else b""
                parts[1] = PLACEHOLDER + end
                lines[i] = b";".join(parts)
    return b"\n".join(lines)


def _page_content(page: pypdf.PageObject) -> bytes:
    content = page.get_contents()  # a stream object: falsy (an empty dict) even with content
    return b"" if content is None else content.get_data()


def _normalise_pdf(data: bytes) -> bytes:
    """The decompressed content of every page, session credentials masked."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [_page_content(page) for page in reader.pages]
    except (pypdf.errors.PdfReadError, ValueError) as error:
        return b"unreadable PDF: " + str(error).encode() + b"\n" + data
    content = b"\n%page\n".join(pages)
    for secret in SESSION_SECRETS:
        content = secret.sub(b"(" + PLACEHOLDER + b")", content)
    return content


def _normalise_zip(data: bytes, days: set[tuple[str, str, str]]) -> bytes:
    """Each member, in order, by its name and its normalised bytes."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return data
    parts = []
    with archive:
        for info in archive.infolist():
            body = normalise_bytes(info.filename, archive.read(info), days)
            parts.append(f"%member {normalised_name(info.filename)} {len(body)}\n".encode() + body)
    return b"\n".join(parts)


NORMALISERS: dict[str, Callable[[bytes], bytes]] = {
    ".json": _normalise_json,
    ".csv": _normalise_csv,
    ".pdf": _normalise_pdf,
}


def normalise_bytes(name: str, data: bytes, days: set[tuple[str, str, str]]) -> bytes:
    """A file's bytes with its run-time fields replaced by a placeholder, for comparison."""
    suffix = Path(name).suffix.lower()
    if suffix == ".zip":
        return _normalise_zip(data, days)
    normaliser = NORMALISERS.get(suffix)
    if normaliser is not None:
        data = normaliser(data)
    return _mask_days(data, days)


def _files(output: Path) -> dict[str, Path]:
    files = {}
    for path in sorted(output.rglob("*")):
        relative = path.relative_to(output).as_posix()
        if path.is_file() and not any(relative == skip or relative.startswith(skip) for skip in NOT_COMPARED):
            files[normalised_name(relative)] = path
    return files


def _first_difference(a: bytes, b: bytes) -> str:
    offset = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"first at normalised byte {offset}: {a[offset : offset + 40]!r} vs {b[offset : offset + 40]!r}"


def compare_outputs(dir_a: Path, dir_b: Path) -> list[Difference]:
    """Every file of two runs' outputs that differs once run-time fields are normalised."""
    files_a, files_b = _files(dir_a), _files(dir_b)
    days_a = days_b = around_midnight(run_days(dir_a) | run_days(dir_b))
    differences = [Difference(p, "only in a") for p in sorted(files_a.keys() - files_b.keys())]
    differences += [Difference(p, "only in b") for p in sorted(files_b.keys() - files_a.keys())]
    for path in sorted(files_a.keys() & files_b.keys()):
        a = normalise_bytes(path, files_a[path].read_bytes(), days_a)
        b = normalise_bytes(path, files_b[path].read_bytes(), days_b)
        if a != b:
            differences.append(Difference(path, "content", _first_difference(a, b)))
    return differences


def main() -> None:
    """``python -m deploy.local.normalise DIR_A DIR_B``: list the differences, exit 1 if any."""
    import sys

    differences = compare_outputs(Path(sys.argv[1]), Path(sys.argv[2]))
    for difference in differences:
        print(difference)
    print(f"{len(differences)} difference(s)")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
