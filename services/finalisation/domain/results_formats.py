"""Parsers for Pix's own result files: the Pix Orga class results CSV (§7.1) and the livret
scolaire JSON (§7.2 / schools-lsu-calendar §1.2).

A file is accepted whole or rejected whole: every problem found is collected and reported with the
file name, the line, the column/field and what was expected, so a school can fix the file once.
Past 400 lines on purpose: the two formats share their cell readers and error reports.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import json.decoder
import json.scanner
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.finalisation.domain.results import CertificationResult, ResultSource
from shared.contracts.events import ResultStatus
from shared.contracts.pix_formats import (
    CLASS_RESULTS_COLUMNS,
    CLASS_RESULTS_HEADER_LINE,
    CLASS_RESULTS_STATUS_LABELS,
)
from shared.contracts.referential import COMPETENCE_IDS, MAX_COMPETENCE_LEVEL, MAX_V3_SCORE
from shared.errors import DomainError

BOM = "\ufeff"
PARIS = ZoneInfo("Europe/Paris")

CSV_STATUSES: dict[str, ResultStatus] = {
    label: ResultStatus(status) for status, label in CLASS_RESULTS_STATUS_LABELS.items()
}
LIVRET_STATUSES: dict[str, ResultStatus] = {
    "validated": ResultStatus.VALIDATED,
    "rejected": ResultStatus.REJECTED,
    "pending": ResultStatus.STARTED,
}
NOT_TESTED = "-"
MIN_COMPETENCE_LEVEL = -1

VERIFICATION_CODE = re.compile(r"P-[A-Za-z0-9]{8}")
#: INE-RNIE, INE-BEA and INE apprentissage shapes (schools-lsu-calendar §5.2), case-insensitive.
INE = re.compile(r"[0-9]{9}[A-Za-z]{2}|[0-9]{10}[A-Za-z]|[0-9]{4}[Aa][0-9]{5}[A-Za-z]")
_FR_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One thing wrong in a file: where (line, column or field) and what was expected."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}" if self.line is not None else None, self.column]
        return ", ".join(w for w in where if w) + f": {self.message}"


class ResultsFileRejected(DomainError):
    """The whole file is refused; `problems` lists every problem found (at most `MAX_PROBLEMS`)."""

    MAX_PROBLEMS = 50

    def __init__(self, code: str, file_name: str, problems: list[FileProblem]) -> None:
        self.file_name = file_name
        self.problems = problems[: self.MAX_PROBLEMS]
        summary = "; ".join(str(p) for p in self.problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(code, f"{file_name}: {summary}{more}", file_name=file_name, problems=self.problems)


# ---- class results CSV --------------------------------------------------------------------------


def parse_class_results_csv(data: bytes, file_name: str) -> list[CertificationResult]:
    """Read a `{YYYYMMDD}_resultats_{division}.csv` from Pix Orga; raise ResultsFileRejected.

    Accepted: UTF-8 with or without the BOM, `\\n` or `\\r\\n` line ends; the header must name the
    columns exactly as Pix writes them (French export).
    """
    text = _decode_utf8(data, file_name)
    if text.startswith(BOM):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar='"', strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ResultsFileRejected("results.bad_header", file_name, [FileProblem(1, None, str(exc))]) from None
    _check_header(header, file_name)

    problems: list[FileProblem] = []
    results: list[CertificationResult] = []
    seen: dict[int, int] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(FileProblem(reader.line_num, None, f"unreadable CSV: {exc}"))
            break
        line = reader.line_num
        if not row or row == [""]:
            continue
        if len(row) != len(CLASS_RESULTS_COLUMNS):
            problems.append(
                FileProblem(
                    line,
                    None,
                    f"expected {len(CLASS_RESULTS_COLUMNS)} fields separated by ';', found {len(row)}",
                )
            )
            continue
        result = _csv_row(row, line, problems)
        if result is None:
            continue
        if result.certification_id in seen:
            problems.append(
                FileProblem(
                    line,
                    _column(0),
                    f"certification {result.certification_id} already on line {seen[result.certification_id]}",
                )
            )
            continue
        seen[result.certification_id] = line
        results.append(result)
    if problems:
        raise ResultsFileRejected("results.bad_values", file_name, problems)
    return results


def _column(index: int) -> str:
    return f"column {index + 1} ({CLASS_RESULTS_COLUMNS[index]})"


def _check_header(header: list[str] | None, file_name: str) -> None:
    expected = f"the header line {CLASS_RESULTS_HEADER_LINE}"
    if not header or header == [""]:
        raise ResultsFileRejected(
            "results.bad_header", file_name, [FileProblem(1, None, f"empty file, expected {expected}")]
        )
    for index, name in enumerate(CLASS_RESULTS_COLUMNS):
        found = header[index] if index < len(header) else None
        if found != name:
            shown = "nothing" if found is None else repr(found)
            raise ResultsFileRejected(
                "results.bad_header",
                file_name,
                [
                    FileProblem(
                        1, f"column {index + 1}", f"expected {name!r}, found {shown} (expected {expected})"
                    )
                ],
            )
    if len(header) > len(CLASS_RESULTS_COLUMNS):
        raise ResultsFileRejected(
            "results.bad_header",
            file_name,
            [
                FileProblem(
                    1,
                    f"column {len(CLASS_RESULTS_COLUMNS) + 1}",
                    f"unexpected extra column {header[len(CLASS_RESULTS_COLUMNS)]!r} (expected {expected})",
                )
            ],
        )


def _csv_row(row: list[str], line: int, problems: list[FileProblem]) -> CertificationResult | None:
    before = len(problems)

    def problem(index: int, message: str) -> None:
        problems.append(FileProblem(line, _column(index), message))

    def integer(index: int, low: int, high: int, *, dash: bool) -> int | None:
        value = row[index].strip()
        if dash and value == NOT_TESTED:
            return None
        if not re.fullmatch(r"-?\d+", value) or not low <= int(value) <= high:
            allowed = f"a whole number {low}..{high}" + (f" or {NOT_TESTED!r}" if dash else "")
            problem(index, f"expected {allowed}, found {row[index]!r}")
            return None
        return int(value)

    def text(index: int, *, required: bool) -> str | None:
        value = row[index].strip()
        if required and not value:
            problem(index, "must not be empty")
        return value or None

    def french_date(index: int) -> date | None:
        match = _FR_DATE.fullmatch(row[index].strip())
        try:
            if match:
                return date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            pass
        problem(index, f"expected a date DD/MM/YYYY, found {row[index]!r}")
        return None

    certification_id = integer(0, 1, 2**63 - 1, dash=False)
    first_name = text(1, required=True)
    last_name = text(2, required=True)
    birthdate = french_date(3)
    birthplace = text(4, required=False)
    external_id = text(5, required=False)
    status = CSV_STATUSES.get(row[6].strip())
    if status is None:
        problem(6, f"expected one of {', '.join(CSV_STATUSES)}, found {row[6]!r}")
    pix_score = integer(7, 0, MAX_V3_SCORE, dash=True)
    if status in (ResultStatus.VALIDATED, ResultStatus.REJECTED) and row[7].strip() == NOT_TESTED:
        problem(7, f"a {row[6].strip()} certification needs a score, found {NOT_TESTED!r}")
    levels: dict[str, int] = {}
    for offset, competence_id in enumerate(COMPETENCE_IDS):
        level = integer(8 + offset, MIN_COMPETENCE_LEVEL, MAX_COMPETENCE_LEVEL, dash=True)
        if level is not None:
            levels[competence_id] = level
    jury_comment = text(24, required=False)
    session_number = integer(25, 1, 2**63 - 1, dash=False)
    taken_on = french_date(26)

    if len(problems) > before:
        return None
    assert certification_id is not None and first_name and last_name and birthdate and status
    return CertificationResult(
        certification_id=certification_id,
        first_name=first_name,
        last_name=last_name,
        birthdate=birthdate,
        status=status,
        source=ResultSource.CLASS_RESULTS_CSV,
        pix_score=pix_score,
        competence_levels=levels,
        taken_on=taken_on,
        session_number=session_number,
        jury_comment=jury_comment,
        birthplace=birthplace,
        external_id=external_id,
    )


# ---- livret scolaire JSON -----------------------------------------------------------------------


class _Located(dict):
    """A JSON object that remembers the line its `{` is on."""

    line: int = 0


def _load_json_with_lines(text: str) -> Any:
    """json.loads, but every object knows its line (the C scanner cannot do this; files are small)."""
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
        start = s_and_end[1]
        obj, end = json.decoder.JSONObject(s_and_end, *args)
        located = _Located(obj)
        located.line = bisect.bisect_left(newlines, start) + 1
        return located, end

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object  # type: ignore[assignment]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text)


def parse_livret_scolaire_json(data: bytes, file_name: str) -> list[CertificationResult]:
    """Read a livret scolaire response (`data.type = "certificationsResults"`); raise ResultsFileRejected.

    Tolerates the documented variants: `pixScore` as a number or a numeric string, missing
    `relationships`/`included`, null `middleName`/`thirdName`/`nationalStudentId`/`deliveredAt`.
    """
    text = _decode_utf8(data, file_name)
    if text.startswith(BOM):
        text = text[1:]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsFileRejected(
            "results.bad_json",
            file_name,
            [FileProblem(exc.lineno, f"column {exc.colno}", f"invalid JSON: {exc.msg}")],
        ) from None
    except RecursionError:  # a hostile file of nested lists: refused, never a crash
        raise ResultsFileRejected(
            "results.bad_json",
            file_name,
            [FileProblem(None, None, "invalid JSON: nested too deeply (a livret file is a few levels deep)")],
        ) from None
    try:
        return _livret_results(document, file_name)
    except ResultsFileRejected as refused:
        # Refused: read it again, slowly, with the line of every object, so that each problem says
        # where it is. The C parser cannot give lines, and an accepted file (the usual case, ≈ 8,000
        # an académie) needs none: the pure-Python one is ≈ 40× slower.
        try:
            located = _load_json_with_lines(text)
        except RecursionError:  # deeper than the pure-Python parser goes: the problems without lines
            raise refused from None
        return _livret_results(located, file_name)


def _livret_results(document: Any, file_name: str) -> list[CertificationResult]:
    """The livret's results, or ResultsFileRejected listing every problem (with lines if known)."""

    def structure(line: int | None, where: str, message: str) -> ResultsFileRejected:
        return ResultsFileRejected("results.bad_structure", file_name, [FileProblem(line, where, message)])

    data_obj = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data_obj, dict):
        raise structure(1, "data", 'expected a top-level object with a "data" object')
    if data_obj.get("type") != "certificationsResults":
        raise structure(
            _line_of(data_obj),
            "data.type",
            f'expected "certificationsResults", found {data_obj.get("type")!r}',
        )
    attributes = data_obj.get("attributes")
    certifications = attributes.get("certifications") if isinstance(attributes, dict) else None
    if not isinstance(certifications, list):
        raise structure(_line_of(data_obj), "data.attributes.certifications", "expected a list")

    problems: list[FileProblem] = []
    results: list[CertificationResult] = []
    seen: dict[int, int] = {}
    for index, entry in enumerate(certifications):
        path = f"data.attributes.certifications[{index}]"
        if not isinstance(entry, dict):
            problems.append(FileProblem(None, path, "expected an object"))
            continue
        result = _livret_entry(entry, path, problems)
        if result is None:
            continue
        if result.certification_id in seen:
            problems.append(
                FileProblem(
                    _line_of(entry),
                    f"{path}.id",
                    f"certification {result.certification_id} already at index {seen[result.certification_id]}",
                )
            )
            continue
        seen[result.certification_id] = index
        results.append(result)
    if problems:
        raise ResultsFileRejected("results.bad_values", file_name, problems)
    return results


def _line_of(obj: Any) -> int | None:
    return obj.line if isinstance(obj, _Located) else None


def _livret_entry(
    entry: dict[str, Any], path: str, problems: list[FileProblem]
) -> CertificationResult | None:
    before = len(problems)
    line = _line_of(entry)

    def problem(key: str, message: str) -> None:
        problems.append(FileProblem(line, f"{path}.{key}", message))

    def string(key: str, *, required: bool) -> str | None:
        value = entry.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            problem(key, f"expected a non-empty string, found {value!r}")
            return None
        return value.strip() or None

    def iso_datetime(key: str) -> datetime | None:
        value = entry.get(key)
        if value is None:
            return None
        try:
            if isinstance(value, str):
                return datetime.fromisoformat(value)
        except ValueError:
            pass
        problem(key, f"expected an ISO 8601 date-time or null, found {value!r}")
        return None

    cert_id = entry.get("id")
    if isinstance(cert_id, str) and cert_id.isdigit():
        cert_id = int(cert_id)
    if not isinstance(cert_id, int) or isinstance(cert_id, bool) or cert_id < 1:
        problem("id", f"expected a positive integer, found {cert_id!r}")
        cert_id = None
    first_name = string("firstName", required=True)
    last_name = string("lastName", required=True)
    middle_name = string("middleName", required=False)
    third_name = string("thirdName", required=False)
    birthdate = None
    raw_birthdate = entry.get("birthdate")
    try:
        if isinstance(raw_birthdate, str) and _ISO_DATE.fullmatch(raw_birthdate):
            birthdate = date.fromisoformat(raw_birthdate)
    except ValueError:
        pass
    if birthdate is None:
        problem("birthdate", f"expected a date YYYY-MM-DD, found {raw_birthdate!r}")

    ine = string("nationalStudentId", required=False)
    if ine is not None and not INE.fullmatch(ine):
        problem("nationalStudentId", f"expected an INE (11 characters, e.g. 123456789AB), found {ine!r}")
    ine = ine.upper() if ine else None

    status = LIVRET_STATUSES.get(entry.get("status")) if isinstance(entry.get("status"), str) else None
    if status is None:
        problem("status", f"expected one of {', '.join(LIVRET_STATUSES)}, found {entry.get('status')!r}")

    raw_score = entry.get("pixScore", 0)
    score: int | None = None
    if isinstance(raw_score, str) and re.fullmatch(r"\d+", raw_score.strip()):
        raw_score = int(raw_score)
    if isinstance(raw_score, int) and not isinstance(raw_score, bool) and 0 <= raw_score <= MAX_V3_SCORE:
        score = raw_score
    else:
        problem("pixScore", f"expected a whole number 0..{MAX_V3_SCORE}, found {raw_score!r}")

    code = string("verificationCode", required=False)
    if code is not None and not VERIFICATION_CODE.fullmatch(code):
        problem("verificationCode", f"expected P- followed by 8 letters or digits, found {code!r}")

    taken_at = iso_datetime("date")
    delivered_at = iso_datetime("deliveredAt")
    center = string("certificationCenter", required=False)

    levels: dict[str, int] = {}
    raw_levels = entry.get("competenceResults", [])
    if raw_levels is None:
        raw_levels = []
    if not isinstance(raw_levels, list):
        problem("competenceResults", "expected a list")
        raw_levels = []
    for position, item in enumerate(raw_levels):
        key = f"competenceResults[{position}]"
        competence_id = item.get("competenceId") if isinstance(item, dict) else None
        level = item.get("level") if isinstance(item, dict) else None
        if competence_id not in COMPETENCE_IDS:
            problem(key, f"expected a competenceId among 1.1 … 5.2, found {competence_id!r}")
        elif competence_id in levels:
            problem(key, f"competence {competence_id} given twice")
        elif (
            not isinstance(level, int)
            or isinstance(level, bool)
            or not MIN_COMPETENCE_LEVEL <= level <= MAX_COMPETENCE_LEVEL
        ):
            problem(key, f"expected a level {MIN_COMPETENCE_LEVEL}..{MAX_COMPETENCE_LEVEL}, found {level!r}")
        else:
            levels[competence_id] = level

    if len(problems) > before:
        return None
    assert cert_id is not None and first_name and last_name and birthdate and status
    # Pix fills score and levels only for published, validated results: a pending score is unknown.
    if status is ResultStatus.STARTED:
        score = None
    return CertificationResult(
        certification_id=cert_id,
        first_name=first_name,
        last_name=last_name,
        birthdate=birthdate,
        status=status,
        source=ResultSource.LIVRET_SCOLAIRE_JSON,
        pix_score=score,
        competence_levels=levels,
        ine=ine,
        middle_name=middle_name,
        third_name=third_name,
        verification_code=code,
        taken_on=_local_date(taken_at),
        delivered_at=delivered_at,
        certification_center=center,
    )


def _local_date(moment: datetime | None) -> date | None:
    """The day the certification was taken, in France (a 00:30 Paris test is 23:30 UTC the day before)."""
    if moment is None:
        return None
    return moment.astimezone(PARIS).date() if moment.tzinfo else moment.date()


# ---- shared -------------------------------------------------------------------------------------


def _decode_utf8(data: bytes, file_name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ResultsFileRejected(
            "results.bad_encoding",
            file_name,
            [FileProblem(line, None, "the file is not UTF-8 (as Pix exports it)")],
        ) from None
