"""Reader of the Pix Orga class results CSV (pix-domain §7.1): `{YYYYMMDD}_resultats_{division}.csv`.

Accepted whole or refused whole with every problem (results_formats.ResultsFileRejected).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from services.finalisation.domain.results import CertificationResult, ResultSource
from services.finalisation.domain.results_formats import (
    BOM,
    MIN_COMPETENCE_LEVEL,
    FileProblem,
    ResultsFileRejected,
    decode_utf8,
)
from shared.contracts.events import ResultStatus
from shared.contracts.pix_formats import (
    CLASS_RESULTS_COLUMNS,
    CLASS_RESULTS_HEADER_LINE,
    CLASS_RESULTS_STATUS_LABELS,
)
from shared.contracts.referential import COMPETENCE_IDS, MAX_COMPETENCE_LEVEL, MAX_V3_SCORE

CSV_STATUSES: dict[str, ResultStatus] = {
    label: ResultStatus(status) for status, label in CLASS_RESULTS_STATUS_LABELS.items()
}
NOT_TESTED = "-"
_FR_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")


def parse_class_results_csv(data: bytes, file_name: str) -> list[CertificationResult]:
    """Read a `{YYYYMMDD}_resultats_{division}.csv` from Pix Orga; raise ResultsFileRejected.

    Accepted: UTF-8 with or without the BOM, `\\n` or `\\r\\n` line ends; the header must name the
    columns exactly as Pix writes them (French export).
    """
    text = decode_utf8(data, file_name)
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
