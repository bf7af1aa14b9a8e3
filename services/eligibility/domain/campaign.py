"""Reader for the Pix Orga profile-collection campaign export (pix-domain §3.2).

Pix writes it with a UTF-8 BOM and `;`; a school may have re-saved it from Excel, so the same
decoding and separator sniffing as the roster applies. Columns are read by name: "Code" and
"Classe" exist only in some versions, the external id column is named by the organisation, and the
competence columns carry competence *names*, matched (normalised, with aliases) to the referential.
An unknown competence name rejects the file: silently ignoring it would undercount certifiability.
Past 400 lines on purpose: one format, read column by column with its error reports, in one place.
"""

import re
from dataclasses import dataclass
from datetime import date

from services.eligibility.domain.certifiability import level_from_pix
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
from shared.contracts.identifiers import normalise_identifier
from shared.contracts.referential import COMPETENCES, MAX_COMPETENCE_LEVEL

LEVEL_PREFIX = "Niveau pour la compétence "
PIX_PREFIX = "Nombre de pix pour la compétence "

#: Exact headers Pix writes (the writer in samples.py uses these).
HEADER_ORGANISATION = "Nom de l'organisation"
HEADER_CAMPAIGN_ID = "ID Campagne"
HEADER_CODE = "Code"
HEADER_CAMPAIGN_NAME = "Nom de la campagne"
HEADER_LAST_NAME = "Nom du Participant"
HEADER_FIRST_NAME = "Prénom du Participant"
HEADER_GROUP = "Groupe"
HEADER_DIVISION = "Classe"
HEADER_STUDENT_NUMBER = "Numéro Étudiant"
HEADER_SHARED = "Envoi (O/N)"
HEADER_SHARED_AT = "Date de l'envoi"
#: The same column as Pix names it since the share time is exported ("DD/MM/YYYY HH:mm", Paris time).
HEADER_SHARED_AT_WITH_TIME = "Date et heure de l'envoi (Europe/Paris)"
HEADER_TOTAL_PIX = "Nombre de pix total"
HEADER_CERTIFIABLE = "Certifiable (O/N)"
HEADER_CERTIFIABLE_COUNT = "Nombre de compétences certifiables"

_REQUIRED = (
    HEADER_LAST_NAME,
    HEADER_FIRST_NAME,
    HEADER_SHARED,
    HEADER_SHARED_AT,
    HEADER_TOTAL_PIX,
    HEADER_CERTIFIABLE,
    HEADER_CERTIFIABLE_COUNT,
)
_KNOWN_IGNORED = (HEADER_ORGANISATION, HEADER_CAMPAIGN_ID, HEADER_CODE, HEADER_CAMPAIGN_NAME, HEADER_GROUP)
_KNOWN_IGNORED += (HEADER_STUDENT_NUMBER,)
#: Other names of a column, as different Pix versions wrote it → the name used here.
_HEADER_ALIASES = {HEADER_SHARED_AT_WITH_TIME: HEADER_SHARED_AT}
#: Labels organisations give the external id column when it holds the INE.
DEFAULT_EXTERNAL_ID_LABELS = (
    "INE",
    "Identifiant unique",
    "Identifiant national élève",
    "Identifiant élève",
    "Numéro INE",
    "ID INE",
)

_LEVEL_KEY = normalise_header(LEVEL_PREFIX)
_PIX_KEY = normalise_header(PIX_PREFIX)
_COMPETENCE_BY_NAME: dict[str, str] = {}
for _competence in COMPETENCES:
    for _name in (_competence.name, *_competence.aliases):
        _COMPETENCE_BY_NAME[normalise_header(_name)] = _competence.id

_YES = frozenset({"oui", "o", "yes", "y"})
_NO = frozenset({"non", "n", "no"})
_NOT_AVAILABLE = frozenset({"", "na", "n/a"})
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+Z?)?$")
_FR_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: [0-9:]+)?$")


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One participation. Shared-only values are None when the profile was not shared."""

    line: int
    last_name: str
    first_name: str
    division: str | None
    external_id: str | None
    shared: bool
    shared_at: date | None = None
    total_pix: int | None = None
    file_certifiable: bool | None = None
    file_certifiable_count: int | None = None
    levels: dict[str, int] | None = None  # competence id → level (from the level column, else pix // 8)
    pix: dict[str, int] | None = None  # competence id → pix, when the file gives pix


@dataclass(frozen=True, slots=True)
class CampaignImport:
    file_name: str
    rows: tuple[CampaignRow, ...]
    issues: tuple[ImportIssue, ...]
    encoding: str | None = None
    external_id_column: str | None = None
    has_division_column: bool = False
    ignored_columns: tuple[str, ...] = ()  # columns present but not used (reported, never guessed)

    @property
    def accepted(self) -> bool:
        return not self.issues


@dataclass
class _Layout:
    last_name: int
    first_name: int
    shared: int
    shared_at: int
    total_pix: int
    certifiable: int
    certifiable_count: int
    division: int | None
    external_id: int | None
    level_columns: dict[str, int]
    pix_columns: dict[str, int]


def _competence_column(key: str) -> tuple[str, str] | None:
    """('level'|'pix', normalised competence name) for a competence column header, else None."""
    if key.startswith(_LEVEL_KEY):
        return "level", key[len(_LEVEL_KEY) :].strip()
    if key.startswith(_PIX_KEY):
        return "pix", key[len(_PIX_KEY) :].strip()
    return None


def _score_header(cells: list[str]) -> int:
    known = {normalise_header(h) for h in (*_REQUIRED, *_KNOWN_IGNORED, *_HEADER_ALIASES, HEADER_DIVISION)}
    return sum(
        normalise_header(c) in known or _competence_column(normalise_header(c)) is not None for c in cells
    )


def parse_campaign_export(
    data: bytes,
    *,
    file_name: str,
    external_id_column: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> CampaignImport:
    """Read a profile-collection export; rejected whole on any structural or cell error.

    `external_id_column` names the organisation's external id column (holding the INE); when None,
    a column whose header is one of DEFAULT_EXTERNAL_ID_LABELS is used if present.
    """
    issues = IssueCollector(file_name)

    def rejected(encoding: str | None = None) -> CampaignImport:
        return CampaignImport(file_name, (), tuple(issues.issues), encoding)

    if not check_size(data, issues, max_bytes):
        return rejected()
    decoded = decode(data, issues)
    if decoded is None:
        return rejected()
    table = read_table(decoded.text, sniff_delimiter(decoded.text, _score_header))
    header = table.header
    mapped = _map_columns(header, external_id_column, issues)
    if mapped is None:
        return rejected(decoded.encoding)
    layout, ignored = mapped

    rows: list[CampaignRow] = []
    reader = _RowReader(header, layout, issues)
    for line, cells in table.rows:
        if not check_row_width(issues, line, cells, header):
            continue
        row = reader.read(line, cells)
        if row is not None:
            rows.append(row)
    if not rows and not issues:
        issues.add(None, None, Rule.FILE_NO_ROWS, "L'export ne contient aucune participation.")
    if issues:
        return rejected(decoded.encoding)
    return CampaignImport(
        file_name,
        tuple(rows),
        (),
        decoded.encoding,
        header[layout.external_id] if layout.external_id is not None else None,
        layout.division is not None,
        tuple(ignored),
    )


def _map_columns(
    header: list[str], external_id_column: str | None, issues: IssueCollector
) -> tuple[_Layout, list[str]] | None:
    positions: dict[str, int] = {}
    level_columns: dict[str, int] = {}
    pix_columns: dict[str, int] = {}
    known = {normalise_header(h): h for h in (*_REQUIRED, HEADER_DIVISION)}
    known |= {normalise_header(alias): h for alias, h in _HEADER_ALIASES.items()}
    ignorable = {normalise_header(h) for h in _KNOWN_IGNORED}
    external_keys = (
        {normalise_header(external_id_column)}
        if external_id_column
        else {normalise_header(label) for label in DEFAULT_EXTERNAL_ID_LABELS}
    )
    external_id: int | None = None
    ignored: list[str] = []
    unknown_competences: list[str] = []
    duplicated: list[str] = []
    for index, name in enumerate(header):
        key = normalise_header(name)
        competence = _competence_column(key)
        if competence is not None:
            kind, competence_name = competence
            competence_id = _COMPETENCE_BY_NAME.get(competence_name)
            target = level_columns if kind == "level" else pix_columns
            if competence_id is None:
                unknown_competences.append(name)
            elif competence_id in target:
                duplicated.append(name)
            else:
                target[competence_id] = index
        elif key in known:
            if known[key] in positions:
                duplicated.append(name)
            positions.setdefault(known[key], index)
        elif key in external_keys and external_id is None:
            external_id = index
        elif key or index != len(header) - 1:
            ignored.append(name)
    missing = [h for h in _REQUIRED if h not in positions]
    if external_id_column and external_id is None:
        missing.append(external_id_column)
    missing_competences = [
        LEVEL_PREFIX + c.name for c in COMPETENCES if c.id not in level_columns and c.id not in pix_columns
    ]
    for name in missing:
        issues.add(1, name, Rule.FILE_MISSING_COLUMNS, f"Colonne obligatoire absente : « {name} ».")
    for name in unknown_competences:
        issues.add(
            1, name, Rule.CAMPAIGN_UNKNOWN_COMPETENCE, f"« {name} » : compétence inconnue du référentiel Pix."
        )
    for name in missing_competences:
        issues.add(
            1,
            name,
            Rule.CAMPAIGN_MISSING_COMPETENCE,
            f"Compétence absente de l'export (ni niveau ni nombre de pix) : « {name} ».",
        )
    for name in duplicated:
        issues.add(1, name, Rule.FILE_DUPLICATE_COLUMNS, f"Colonne « {name} » en double.")
    if issues:
        return None
    layout = _Layout(
        last_name=positions[HEADER_LAST_NAME],
        first_name=positions[HEADER_FIRST_NAME],
        shared=positions[HEADER_SHARED],
        shared_at=positions[HEADER_SHARED_AT],
        total_pix=positions[HEADER_TOTAL_PIX],
        certifiable=positions[HEADER_CERTIFIABLE],
        certifiable_count=positions[HEADER_CERTIFIABLE_COUNT],
        division=positions.get(HEADER_DIVISION),
        external_id=external_id,
        level_columns=level_columns,
        pix_columns=pix_columns,
    )
    return layout, [n for n in ignored if normalise_header(n) not in ignorable]


def _text(cell: str) -> str:
    """A text cell without Pix's formula escape: Pix writes "'=Bono" for a value starting = + - @."""
    value = cell.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@":
        return value[1:]
    return value


class _RowReader:
    """Turns one record into a CampaignRow, recording every bad cell."""

    def __init__(self, header: list[str], layout: _Layout, issues: IssueCollector) -> None:
        self._header = header
        self._layout = layout
        self._issues = issues

    def _bad(self, line: int, index: int, rule: Rule, message: str) -> None:
        self._issues.add(line, self._header[index], rule, message)

    def read(self, line: int, cells: list[str]) -> CampaignRow | None:
        before = len(self._issues.issues)
        for index, cell in enumerate(cells):
            if looks_like_formula(cell):
                self._bad(
                    line,
                    index,
                    Rule.CELL_FORMULA_INJECTION,
                    "La cellule commence par = + - @ ou une tabulation (formule de tableur) : refusée.",
                )
        if len(self._issues.issues) != before:
            return None
        lay = self._layout
        last_name, first_name = _text(cells[lay.last_name]), _text(cells[lay.first_name])
        for index, value in ((lay.last_name, last_name), (lay.first_name, first_name)):
            if not value:
                self._bad(line, index, Rule.CELL_REQUIRED, "Valeur obligatoire manquante.")
        division = (_text(cells[lay.division]) or None) if lay.division is not None else None
        external_id = None
        if lay.external_id is not None:
            external_id = normalise_identifier(_text(cells[lay.external_id])) or None
        shared = self._yes_no(line, lay.shared, cells[lay.shared], allow_na=False)
        if shared is None:
            return None
        if not shared:
            self._expect_not_available(line, cells)
            if len(self._issues.issues) != before:
                return None
            return CampaignRow(line, last_name, first_name, division, external_id, False)

        shared_at = self._date(line, lay.shared_at, cells[lay.shared_at])
        total_pix = self._number(line, lay.total_pix, cells[lay.total_pix])
        certifiable = self._yes_no(line, lay.certifiable, cells[lay.certifiable], allow_na=True)
        count = self._number(
            line, lay.certifiable_count, cells[lay.certifiable_count], maximum=len(COMPETENCES)
        )
        pix = {cid: self._number(line, i, cells[i]) for cid, i in lay.pix_columns.items()}
        levels = {
            cid: self._number(line, i, cells[i], maximum=MAX_COMPETENCE_LEVEL, level=True)
            for cid, i in lay.level_columns.items()
        }
        if len(self._issues.issues) != before:
            return None
        clean_pix = {cid: p for cid, p in pix.items() if p is not None}
        all_levels = {cid: level_from_pix(p) for cid, p in clean_pix.items()}
        all_levels.update({cid: lv for cid, lv in levels.items() if lv is not None})
        return CampaignRow(
            line,
            last_name,
            first_name,
            division,
            external_id,
            True,
            shared_at,
            total_pix,
            certifiable,
            count,
            all_levels,
            clean_pix or None,
        )

    def _yes_no(self, line: int, index: int, cell: str, *, allow_na: bool) -> bool | None:
        value = cell.strip().casefold()
        if value in _YES:
            return True
        if value in _NO:
            return False
        if not (allow_na and value in _NOT_AVAILABLE):
            self._bad(line, index, Rule.CAMPAIGN_INVALID_YES_NO, f"« {cell} » : Oui ou Non attendu.")
        return None

    def _number(
        self, line: int, index: int, cell: str, *, maximum: int | None = None, level: bool = False
    ) -> int | None:
        value = cell.strip()
        if not value.isdigit() or not value.isascii():
            self._bad(
                line,
                index,
                Rule.CAMPAIGN_INVALID_NUMBER,
                f"« {cell} » : nombre entier positif ou nul attendu.",
            )
            return None
        number = int(value)
        if maximum is not None and number > maximum:
            rule = Rule.CAMPAIGN_LEVEL_OUT_OF_RANGE if level else Rule.CAMPAIGN_INVALID_NUMBER
            self._bad(line, index, rule, f"{number} : au plus {maximum}.")
            return None
        return number

    def _date(self, line: int, index: int, cell: str) -> date | None:
        value = cell.strip()
        iso, french = _ISO_DATE.match(value), _FR_DATE.match(value)
        try:
            if iso:
                return date(int(iso[1]), int(iso[2]), int(iso[3]))
            if french:
                return date(int(french[3]), int(french[2]), int(french[1]))
        except ValueError:
            self._bad(line, index, Rule.DATE_NOT_A_CALENDAR_DATE, f"« {cell} » n'existe pas au calendrier.")
            return None
        self._bad(
            line, index, Rule.DATE_INVALID_FORMAT, f"« {cell} » : date AAAA-MM-JJ ou jj/mm/aaaa attendue."
        )
        return None

    def _expect_not_available(self, line: int, cells: list[str]) -> None:
        """A profile not shared has no values: NA or empty everywhere shared-only."""
        lay = self._layout
        indexes = [lay.shared_at, lay.total_pix, lay.certifiable, lay.certifiable_count]
        indexes += [*lay.level_columns.values(), *lay.pix_columns.values()]
        for index in indexes:
            if cells[index].strip().casefold() not in _NOT_AVAILABLE:
                self._bad(
                    line,
                    index,
                    Rule.CAMPAIGN_VALUE_WITHOUT_SHARE,
                    f"« {cells[index]} » alors que le profil n'a pas été envoyé (NA attendu).",
                )
