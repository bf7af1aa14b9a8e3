"""Reader of the livret scolaire JSON (pix-domain §7.2 / schools-lsu-calendar §1.2).

Accepted whole or refused whole with every problem, each with the line of its object where the
JSON tells it (results_formats.ResultsFileRejected).
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import re
from datetime import date, datetime
from typing import Any

from services.finalisation.domain.results import CertificationResult, ResultSource
from services.finalisation.domain.results_formats import (
    BOM,
    MIN_COMPETENCE_LEVEL,
    PARIS,
    FileProblem,
    ResultsFileRejected,
    decode_utf8,
)
from shared.contracts.events import ResultStatus
from shared.contracts.referential import COMPETENCE_IDS, MAX_COMPETENCE_LEVEL, MAX_V3_SCORE

LIVRET_STATUSES: dict[str, ResultStatus] = {
    "validated": ResultStatus.VALIDATED,
    "rejected": ResultStatus.REJECTED,
    "pending": ResultStatus.STARTED,
}

VERIFICATION_CODE = re.compile(r"P-[A-Za-z0-9]{8}")
#: INE-RNIE, INE-BEA and INE apprentissage shapes (schools-lsu-calendar §5.2), case-insensitive.
INE = re.compile(r"[0-9]{9}[A-Za-z]{2}|[0-9]{10}[A-Za-z]|[0-9]{4}[Aa][0-9]{5}[A-Za-z]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
    text = decode_utf8(data, file_name)
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
