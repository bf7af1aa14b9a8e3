"""The class results CSV, byte-compatible with Pix Orga's division export (pix-domain.md §7.1).

Layout: UTF-8 with a BOM, ``;`` between cells, ``\\n`` between lines and no newline after the last
one (Pix's CSV writer joins lines, it does not terminate them), text double-quoted with inner
quotes doubled, numbers bare, a missing value (None) as an empty unquoted cell. Cell values follow
Pix's builder and its unit tests, which are reproduced byte for byte in our tests:

* "Nombre de Pix": the score; ``"0"`` when rejected — quoted, because Pix's builder writes the
  string '0' there (its test expects ``"Rejetée";"0";``); ``"-"`` when cancelled or in error
  (or when there is no score yet).
* competence columns: ``"-"`` when not tested or when the certification is cancelled or in error;
  ``0`` when the level is ≤ 0 or the certification is rejected; the level otherwise.
  (pix-domain.md §7.1 says ``-`` for every competence of a rejected certification; Pix's builder
  code and tests write 0 for the competences a rejected candidate was tested on, which we follow.)
* jury comment: the automatic-rejection text when the rejection was automatic.

Spreadsheet formula injection: a text cell starting with ``= + - @``, a tab or a carriage return is
prefixed with a single quote (OWASP's advice) so Excel/LibreOffice show it as text. The ``"-"``
placeholder is written by the builder itself and is never prefixed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.export.domain.records import CertificationResult, ResultStatus
from shared.contracts.pix_formats import CLASS_RESULTS_COLUMNS, CLASS_RESULTS_STATUS_LABELS
from shared.contracts.referential import COMPETENCE_IDS

COMPETENCE_COLUMNS = COMPETENCE_IDS
HEADER = CLASS_RESULTS_COLUMNS
STATUS_LABELS: dict[ResultStatus, str] = {
    ResultStatus(status): label for status, label in CLASS_RESULTS_STATUS_LABELS.items()
}

REJECTED_AUTOMATICALLY_COMMENT = (
    "Le candidat a répondu faux à plus de 50% des questions posées, cela a invalidé l'ensemble de "
    "sa certification, et a donc entraîné un score de 0 pix"
)

BOM = "\ufeff"
SEPARATOR = ";"
LINE_END = "\n"
PLACEHOLDER = '"-"'
REJECTED_SCORE = '"0"'
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

#: Dates in the CSV are calendar days in France (Pix formats them in the server's local time).
PARIS = ZoneInfo("Europe/Paris")

_NO_SCORE = frozenset({ResultStatus.CANCELLED, ResultStatus.ERROR})


def neutralise(text: str) -> str:
    """Prefix a single quote to text a spreadsheet would read as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def quote(text: str | None) -> str:
    """A text cell: neutralised, inner double quotes doubled, wrapped in double quotes; None is an
    empty unquoted cell (as Pix writes a missing value)."""
    if text is None:
        return ""
    return '"' + neutralise(text).replace('"', '""') + '"'


def french_date(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def paris_day(moment: datetime) -> date:
    """The French calendar day of an instant; naive datetimes are refused (ambiguous)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: export dates must be timezone-aware")
    return moment.astimezone(PARIS).date()


def _pix_score_cell(result: CertificationResult) -> str:
    if result.status in _NO_SCORE:
        return PLACEHOLDER
    if result.status is ResultStatus.REJECTED:
        return REJECTED_SCORE
    return PLACEHOLDER if result.pix_score is None else str(result.pix_score)


def _competence_cells(result: CertificationResult) -> list[str]:
    if result.status in _NO_SCORE:
        return [PLACEHOLDER] * len(COMPETENCE_COLUMNS)
    rejected = result.status is ResultStatus.REJECTED
    levels = result.competence_levels
    cells = []
    for competence_id in COMPETENCE_COLUMNS:
        level = levels.get(competence_id)
        if level is None:
            cells.append(PLACEHOLDER)
        elif rejected or level <= 0:
            cells.append("0")
        else:
            cells.append(str(level))
    return cells


def _jury_comment(result: CertificationResult) -> str | None:
    if result.rejected_automatically:
        return REJECTED_AUTOMATICALLY_COMMENT
    return result.jury_comment_for_organization


def header_line() -> str:
    return SEPARATOR.join(quote(title) for title in HEADER)


def data_line(result: CertificationResult) -> str:
    """One CSV line (without its line end) for a certification."""
    cells = [
        str(result.certification_id),
        quote(result.first_name),
        quote(result.last_name),
        quote(french_date(result.birthdate)),
        quote(result.birthplace),
        quote(result.external_id),
        quote(STATUS_LABELS[result.status]),
        _pix_score_cell(result),
        *_competence_cells(result),
        quote(_jury_comment(result)),
        str(result.session_number),
        quote(french_date(paris_day(result.taken_at))),
    ]
    return SEPARATOR.join(cells)


def render_class_results_csv(results: Iterable[CertificationResult]) -> bytes:
    """The whole CSV file for already selected and ordered rows
    (see :func:`services.export.domain.selection.select_class_results`)."""
    lines = [header_line()]
    lines.extend(data_line(result) for result in results)
    return (BOM + LINE_END.join(lines)).encode("utf-8")
