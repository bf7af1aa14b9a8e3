"""Reader for the certificability Pix Orga computes every night for SCO learners (pix-domain §3.2).

Pix Orga shows it in its "Élèves" list, column "Certificabilité": "Certifiable", "Non certifiable"
or "Non communiqué", with the date of the computation (JJ/MM/AAAA) below the tag; the API behind it
is the JSON:API list ``GET /api/organizations/{id}/sco-participants`` (``is-certifiable``,
``certifiable-at``). **Orga offers no file of it** (the list has no export button, and shows no
INE), so certibus takes the documented CSV below, which staff fill from that list and SIECLE:

    INE;Certificabilité;Date de certificabilité
    123456789AB;Certifiable;14/11/2026
    0123456789A;Non certifiable;14/11/2026
    123456789CD;Non communiqué;

UTF-8 (BOM optional) or Windows-1252, ``;`` or ``,``, header on line 1 (names compared without
case or accents), one learner a line. "Certificabilité" takes Orga's three labels (or Oui / Non,
as campaign exports write it); the date is required for Certifiable / Non certifiable, JJ/MM/AAAA
or AAAA-MM-JJ, never after the import day; a "Non communiqué" line carries no date and changes
nothing. The file is refused whole on any issue, each naming its line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from services.eligibility.domain.issues import ImportIssue, IssueCollector, Rule
from services.eligibility.domain.tabular import (
    MAX_FILE_BYTES,
    check_row_width,
    check_size,
    decode,
    read_table,
    sniff_delimiter,
)
from services.eligibility.domain.text import looks_like_formula, normalise_header
from shared.contracts.identifiers import ine_problem, normalise_identifier

HEADER_INE = "INE"
HEADER_CERTIFICABILITY = "Certificabilité"
HEADER_DATE = "Date de certificabilité"
#: the header line of the documented file, as the generator and the README write it
HEADER_LINE = ";".join((HEADER_INE, HEADER_CERTIFICABILITY, HEADER_DATE))
COLUMNS = (HEADER_INE, HEADER_CERTIFICABILITY, HEADER_DATE)

#: Orga's labels (orga/app/components/ui/is-certifiable.gjs: eligible / non-eligible / not-available)
CERTIFIABLE = "Certifiable"
NOT_CERTIFIABLE = "Non certifiable"
NOT_AVAILABLE = "Non communiqué"
_VALUES: dict[str, bool | None] = {
    normalise_header(CERTIFIABLE): True,
    normalise_header(NOT_CERTIFIABLE): False,
    normalise_header(NOT_AVAILABLE): None,
    "oui": True,
    "non": False,
}
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FRENCH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True, slots=True)
class OrgaRow:
    """One learner's certificability; ``certifiable`` None = "Non communiqué" (no date)."""

    line: int
    ine: str
    certifiable: bool | None
    certifiable_at: date | None


@dataclass(frozen=True, slots=True)
class OrgaImport:
    file_name: str
    rows: tuple[OrgaRow, ...]
    issues: tuple[ImportIssue, ...]
    encoding: str | None = None

    @property
    def accepted(self) -> bool:
        return not self.issues


def _score(cells: list[str]) -> int:
    keys = {normalise_header(c) for c in COLUMNS}
    return sum(normalise_header(c) in keys for c in cells)


def parse_orga_certificability(
    data: bytes, *, file_name: str, today: date, max_bytes: int = MAX_FILE_BYTES
) -> OrgaImport:
    """Read the documented CSV; every issue is collected, the file accepted only without any."""
    issues = IssueCollector(file_name)
    if not check_size(data, issues, max_bytes):
        return OrgaImport(file_name, (), tuple(issues.issues))
    decoded = decode(data, issues)
    if decoded is None:
        return OrgaImport(file_name, (), tuple(issues.issues))
    table = read_table(decoded.text, sniff_delimiter(decoded.text, _score))
    positions = _map_header(table.header, issues)
    if positions is None:
        return OrgaImport(file_name, (), tuple(issues.issues), decoded.encoding)
    rows: list[OrgaRow] = []
    first_line: dict[str, int] = {}
    for line, cells in table.rows:
        if not check_row_width(issues, line, cells, table.header):
            continue
        row = _read_row(line, [cells[i] for i in positions], issues, today)
        if row is None:
            continue
        if row.ine in first_line:
            issues.add(
                line,
                HEADER_INE,
                Rule.INE_DUPLICATE,
                f"INE {row.ine} déjà présent ligne {first_line[row.ine]}.",
            )
            continue
        first_line[row.ine] = line
        rows.append(row)
    if not rows and not issues:
        issues.add(None, None, Rule.FILE_NO_ROWS, "Le fichier ne contient aucun élève.")
    if issues:
        return OrgaImport(file_name, (), tuple(issues.issues), decoded.encoding)
    return OrgaImport(file_name, tuple(rows), (), decoded.encoding)


def _map_header(header: list[str], issues: IssueCollector) -> list[int] | None:
    """Positions of the three columns, or None after recording what is missing, doubled or unknown."""
    wanted = {normalise_header(c): c for c in COLUMNS}
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        column = wanted.get(normalise_header(name))
        if column is None:
            if name.strip() or index != len(header) - 1:  # a trailing separator leaves an empty name
                issues.add(
                    1,
                    name,
                    Rule.FILE_UNKNOWN_COLUMNS,
                    f"Colonne inconnue : « {name} » (attendu : {HEADER_LINE}).",
                )
        elif column in found:
            issues.add(1, name, Rule.FILE_DUPLICATE_COLUMNS, f"Colonne « {name} » en double.")
        else:
            found[column] = index
    for column in COLUMNS:
        if column not in found:
            issues.add(1, column, Rule.FILE_MISSING_COLUMNS, f"Colonne obligatoire absente : « {column} ».")
    if issues:
        return None
    return [found[c] for c in COLUMNS]


def _read_row(line: int, cells: list[str], issues: IssueCollector, today: date) -> OrgaRow | None:
    """One line (cells in COLUMNS order), or None after recording each bad cell."""
    before = len(issues.issues)
    for column, cell in zip(COLUMNS, cells, strict=True):
        if looks_like_formula(cell):
            issues.add(
                line,
                column,
                Rule.CELL_FORMULA_INJECTION,
                "La cellule commence par = + - @ ou une tabulation (formule de tableur) : refusée.",
            )
    if len(issues.issues) != before:
        return None
    raw_ine, raw_status, raw_date = (c.strip() for c in cells)
    ine = normalise_identifier(raw_ine)
    if not ine:
        issues.add(line, HEADER_INE, Rule.CELL_REQUIRED, "Valeur obligatoire manquante.")
    elif (problem := ine_problem(ine)) == "format":
        issues.add(
            line,
            HEADER_INE,
            Rule.INE_INVALID_FORMAT,
            f"INE « {raw_ine} » : 9 chiffres + 2 lettres, 10 chiffres + 1 lettre, "
            "ou format apprenti (4 chiffres, A, 5 chiffres, 1 lettre) attendu.",
        )
    elif problem == "check_letter":
        issues.add(
            line, HEADER_INE, Rule.INE_INVALID_CHECK_LETTER, f"INE « {raw_ine} » : lettre clé incorrecte."
        )
    key = normalise_header(raw_status)
    certifiable: bool | None = None
    if not raw_status:
        issues.add(line, HEADER_CERTIFICABILITY, Rule.CELL_REQUIRED, "Valeur obligatoire manquante.")
    elif key not in _VALUES:
        issues.add(
            line,
            HEADER_CERTIFICABILITY,
            Rule.ORGA_INVALID_CERTIFICABILITY,
            f"« {raw_status} » : {CERTIFIABLE}, {NOT_CERTIFIABLE} ou {NOT_AVAILABLE} attendu.",
        )
    else:
        certifiable = _VALUES[key]
    when = _date(line, raw_date, issues, today) if raw_date else None
    if raw_status and key in _VALUES:
        if certifiable is not None and not raw_date:
            issues.add(
                line,
                HEADER_DATE,
                Rule.CELL_REQUIRED,
                f"Date obligatoire pour « {raw_status} » : celle du calcul affichée par Pix Orga.",
            )
        elif certifiable is None and raw_date:
            issues.add(
                line,
                HEADER_DATE,
                Rule.ORGA_DATE_WITHOUT_STATUS,
                f"« {raw_date} » alors que la certificabilité n'est pas communiquée (cellule vide attendue).",
            )
    if len(issues.issues) != before:
        return None
    return OrgaRow(line, ine, certifiable, when)


def _date(line: int, value: str, issues: IssueCollector, today: date) -> date | None:
    iso, french = _ISO.match(value), _FRENCH.match(value)
    if not (iso or french):
        issues.add(line, HEADER_DATE, Rule.DATE_INVALID_FORMAT, f"« {value} » : date jj/mm/aaaa attendue.")
        return None
    try:
        parsed = (
            date(int(iso[1]), int(iso[2]), int(iso[3]))
            if iso
            else date(int(french[3]), int(french[2]), int(french[1]))  # type: ignore[index]
        )
    except ValueError:
        issues.add(
            line, HEADER_DATE, Rule.DATE_NOT_A_CALENDAR_DATE, f"« {value} » n'existe pas au calendrier."
        )
        return None
    if parsed > today:
        issues.add(
            line,
            HEADER_DATE,
            Rule.DATE_OUT_OF_RANGE,
            f"« {value} » est après le jour de l'import ({today:%d/%m/%Y}) : Pix Orga ne calcule pas l'avenir.",
        )
        return None
    return parsed
