"""Reader for the Pix Orga learner CSV (SIECLE fields, the "import élèves" template).

Columns are found by header name (the template's column order changed over the years); the
asterisks marking required columns are ignored when matching.
"""

from datetime import date

from services.eligibility.domain.issues import IssueCollector, Rule
from services.eligibility.domain.roster import (
    LearnerField,
    LearnerRecordValidator,
    RosterImport,
    RosterLearner,
    check_school_uai,
)
from services.eligibility.domain.tabular import (
    MAX_FILE_BYTES,
    check_row_width,
    check_size,
    decode,
    read_table,
    sniff_delimiter,
)
from services.eligibility.domain.text import normalise_header

#: Header as written by the Pix Orga template, per field (the writer in samples.py uses these).
PIX_LEARNER_HEADERS: dict[LearnerField, str] = {
    LearnerField.INE: "Identifiant unique*",
    LearnerField.FIRST_NAME: "Premier prénom*",
    LearnerField.SECOND_NAME: "Deuxième prénom",
    LearnerField.THIRD_NAME: "Troisième prénom",
    LearnerField.LAST_NAME: "Nom de famille*",
    LearnerField.USAGE_NAME: "Nom d'usage",
    LearnerField.SEX: "Code sexe*",
    LearnerField.BIRTH_DATE: "Date de naissance (jj/mm/aaaa)*",
    LearnerField.BIRTH_CITY_CODE: "Code commune naissance**",
    LearnerField.BIRTH_CITY: "Libellé commune naissance**",
    LearnerField.BIRTH_DEPARTMENT_CODE: "Code département naissance*",
    LearnerField.BIRTH_COUNTRY_CODE: "Code pays naissance*",
    LearnerField.STATUS: "Statut*",
    LearnerField.MEF_CODE: "Code MEF*",
    LearnerField.DIVISION: "Division*",
}

#: Columns that may be absent from the file (their values are optional anyway).
OPTIONAL_COLUMNS = frozenset({LearnerField.SECOND_NAME, LearnerField.THIRD_NAME, LearnerField.USAGE_NAME})

_HEADER_ALIASES: dict[str, LearnerField] = {normalise_header(h): f for f, h in PIX_LEARNER_HEADERS.items()}
_HEADER_ALIASES |= {
    normalise_header("Date de naissance"): LearnerField.BIRTH_DATE,
    normalise_header("Identifiant unique (INE)"): LearnerField.INE,
    normalise_header("INE"): LearnerField.INE,
    normalise_header("Nom d’usage"): LearnerField.USAGE_NAME,
}


def _score_header(cells: list[str]) -> int:
    return sum(normalise_header(c) in _HEADER_ALIASES for c in cells)


def parse_learner_csv(
    data: bytes,
    *,
    file_name: str,
    uai: str,
    reference_date: date | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> RosterImport:
    """Read and validate a whole learner CSV for school `uai`; accepted whole or rejected whole.

    `reference_date` anchors the plausible birth-date range (defaults to today).
    """
    issues = IssueCollector(file_name)
    school = check_school_uai(uai, issues)

    def rejected(encoding: str | None = None) -> RosterImport:
        return RosterImport(file_name, school, "learner_csv", (), tuple(issues.issues), encoding)

    if not check_size(data, issues, max_bytes):
        return rejected()
    decoded = decode(data, issues)
    if decoded is None:
        return rejected()
    table = read_table(decoded.text, sniff_delimiter(decoded.text, _score_header))

    columns = _map_columns(table.header, issues)
    if columns is None:
        return rejected(decoded.encoding)

    validator = LearnerRecordValidator(
        issues, {f: table.header[i] for f, i in columns.items()}, reference_date or date.today()
    )
    positions = list(columns.items())
    learners: list[RosterLearner] = []
    for line, cells in table.rows:
        if not check_row_width(issues, line, cells, table.header):
            continue
        learner = validator.validate(line, {f: cells[i] for f, i in positions})
        if learner is not None:
            learners.append(learner)

    if not learners and not issues:
        issues.add(None, None, Rule.FILE_NO_ROWS, "Le fichier ne contient aucun élève (en-tête seul).")
    if issues:
        return rejected(decoded.encoding)
    return RosterImport(file_name, school, "learner_csv", tuple(learners), (), decoded.encoding)


def _map_columns(header: list[str], issues: IssueCollector) -> dict[LearnerField, int] | None:
    """Field → column index; missing, unknown and duplicated columns are file-level errors."""
    columns: dict[LearnerField, int] = {}
    unknown: list[tuple[int, str]] = []
    duplicated: list[str] = []
    for index, name in enumerate(header):
        key = normalise_header(name)
        if not key and index == len(header) - 1:
            continue  # trailing separator at the end of the header line
        learner_field = _HEADER_ALIASES.get(key)
        if learner_field is None:
            unknown.append((index, name))
        elif learner_field in columns:
            duplicated.append(name)
        else:
            columns[learner_field] = index
    missing = [
        PIX_LEARNER_HEADERS[f] for f in PIX_LEARNER_HEADERS if f not in columns and f not in OPTIONAL_COLUMNS
    ]
    for name in missing:
        issues.add(1, name, Rule.FILE_MISSING_COLUMNS, f"Colonne obligatoire absente : « {name} ».")
    for index, name in unknown:
        issues.add(
            1,
            name or f"#{index + 1}",
            Rule.FILE_UNKNOWN_COLUMNS,
            f"Colonne inconnue « {name} » (colonne {index + 1} ; vérifiez le séparateur).",
        )
    for name in duplicated:
        issues.add(1, name, Rule.FILE_DUPLICATE_COLUMNS, f"Colonne « {name} » en double.")
    return None if (missing or unknown or duplicated) else columns
