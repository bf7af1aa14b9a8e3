"""Profile-collection export: reading by name, competence names, NA for unshared, every bad cell."""

from dataclasses import replace
from datetime import date

import pytest

from deploy.local.generator import (
    Participation,
    campaign_csv_bytes,
    generate_learners,
    generate_participations,
)
from services.eligibility.domain.campaign import parse_campaign_export
from services.eligibility.domain.issues import Rule
from shared.contracts.referential import COMPETENCE_IDS, COMPETENCES

LEARNERS = generate_learners(21, 40)
PARTICIPATIONS = generate_participations(22, LEARNERS)


def parse(data: bytes, **kwargs):
    return parse_campaign_export(data, file_name="export.csv", **kwargs)


def shared(pix: tuple[int, ...], **kw) -> Participation:
    return Participation("Dupont", "Léa", "3A", "123456789AB", True, date(2025, 11, 12), pix, **kw)


def test_pix_export_bytes_start_with_bom_and_quoted_headers():
    data = campaign_csv_bytes(PARTICIPATIONS)
    assert data.startswith(b'\xef\xbb\xbf"Nom de l\'organisation";"ID Campagne";"Code";')
    assert data.endswith(b"\n") and b"\r\n" not in data


def test_generated_export_is_read_back_exactly():
    result = parse(campaign_csv_bytes(PARTICIPATIONS))
    assert result.accepted and result.encoding == "utf-8-sig"
    assert result.external_id_column == "INE" and result.has_division_column and result.ignored_columns == ()
    assert len(result.rows) == len(PARTICIPATIONS)
    for row, p in zip(result.rows, PARTICIPATIONS, strict=True):
        assert (row.last_name, row.first_name, row.division, row.external_id) == (
            p.last_name,
            p.first_name,
            p.division,
            p.ine,
        )
        assert row.shared is p.shared
        if p.shared:
            assert row.levels == p.levels and row.shared_at == p.shared_at
            assert row.file_certifiable_count == p.certifiable_count and row.total_pix == sum(p.pix)
        else:
            assert row.levels is None and row.shared_at is None and row.file_certifiable is None


def test_old_layout_without_code_class_and_external_id():
    result = parse(
        campaign_csv_bytes(PARTICIPATIONS, campaign_code=None, external_id_label=None, with_division=False)
    )
    assert result.accepted and result.external_id_column is None and not result.has_division_column
    assert all(row.division is None and row.external_id is None for row in result.rows)


def test_custom_external_id_label_must_be_named():
    data = campaign_csv_bytes(PARTICIPATIONS, external_id_label="Numéro élève")
    assert parse(data).ignored_columns == ("Numéro élève",)
    assert parse(data, external_id_column="Numéro élève").rows[0].external_id == PARTICIPATIONS[0].ine
    missing = parse(campaign_csv_bytes(PARTICIPATIONS), external_id_column="Numéro élève")
    assert [(i.line, i.column, i.rule) for i in missing.issues] == [
        (1, "Numéro élève", Rule.FILE_MISSING_COLUMNS)
    ]


def test_competence_aliases_and_apostrophes_are_matched():
    names = {
        "1.1": "Mener une recherche et une veille d'information",
        "2.4": "S'insérer dans un monde numérique",
        "3.2": "Développer des documents multimedia",
        "4.3": "PROTÉGER la santé,  le bien-être et l'environnement",
        "5.2": "Évoluer dans un environnement numérique",
    }
    assert parse(campaign_csv_bytes(PARTICIPATIONS, competence_names=names)).accepted


def test_unknown_competence_fails_loudly():
    result = parse(campaign_csv_bytes(PARTICIPATIONS, competence_names={"3.4": "Coder en Python"}))
    rules = [i.rule for i in result.issues]
    assert Rule.CAMPAIGN_UNKNOWN_COMPETENCE in rules and Rule.CAMPAIGN_MISSING_COMPETENCE in rules
    assert "Coder en Python" in result.issues[0].message and result.rows == ()
    assert [(i.line, i.column, i.rule) for i in result.issues] == [
        (1, "Niveau pour la compétence Coder en Python", Rule.CAMPAIGN_UNKNOWN_COMPETENCE),
        (1, "Nombre de pix pour la compétence Coder en Python", Rule.CAMPAIGN_UNKNOWN_COMPETENCE),
        (1, "Niveau pour la compétence Programmer", Rule.CAMPAIGN_MISSING_COMPETENCE),
    ]


def test_comma_separated_and_cp1252_resave_from_excel():
    text = campaign_csv_bytes(PARTICIPATIONS)[3:].decode("utf-8")
    resaved = text.replace(";", ",").replace("’", "'").encode("cp1252")
    result = parse(resaved)
    assert result.accepted and result.encoding == "cp1252" and len(result.rows) == len(PARTICIPATIONS)


def test_levels_are_computed_from_pix_when_only_pix_is_given():
    data = campaign_csv_bytes([shared((8, 15, 16, 0, 7, *([40] * 11)))]).decode("utf-8-sig")
    header, line = data.splitlines()
    keep = [i for i, h in enumerate(header.split(";")) if not h.startswith('"Niveau pour')]
    text = "\n".join(";".join(part.split(";")[i] for i in keep) for part in (header, line))
    (row,) = parse(text.encode()).rows
    assert [row.levels[c] for c in COMPETENCE_IDS[:5]] == [1, 1, 2, 0, 0]


def _cells(participation: Participation) -> tuple[list[str], list[str]]:
    header, line = campaign_csv_bytes([participation]).decode("utf-8-sig").splitlines()
    return header.split(";"), line.split(";")


def _with(participation: Participation, column: str, value: str) -> bytes:
    header, line = _cells(participation)
    line[header.index(f'"{column}"')] = value
    return ("\n".join([";".join(header), ";".join(line)]) + "\n").encode()


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("Envoi (O/N)", '"Peut-être"', Rule.CAMPAIGN_INVALID_YES_NO),
        ("Certifiable (O/N)", '"Ja"', Rule.CAMPAIGN_INVALID_YES_NO),
        ("Nombre de pix total", "12.5", Rule.CAMPAIGN_INVALID_NUMBER),
        ("Nombre de pix total", '"NA"', Rule.CAMPAIGN_INVALID_NUMBER),
        ("Nombre de compétences certifiables", "17", Rule.CAMPAIGN_INVALID_NUMBER),
        ("Niveau pour la compétence Programmer", "9", Rule.CAMPAIGN_LEVEL_OUT_OF_RANGE),
        ("Nombre de pix pour la compétence Interagir", '"-3"', Rule.CELL_FORMULA_INJECTION),
        ("Date de l'envoi", '"12 novembre"', Rule.DATE_INVALID_FORMAT),
        ("Date de l'envoi", '"2025-02-30"', Rule.DATE_NOT_A_CALENDAR_DATE),
        ("Nom du Participant", '"=1+1"', Rule.CELL_FORMULA_INJECTION),
        ("Nom du Participant", '""', Rule.CELL_REQUIRED),
    ],
)
def test_bad_cells_reject_the_export_with_line_and_column(column, value, rule):
    result = parse(_with(shared((10,) * 16), column, value))
    assert result.rows == ()
    (issue,) = result.issues
    assert (issue.line, issue.column, issue.rule) == (2, column, rule)


def test_unshared_row_with_values_is_refused():
    unshared = Participation("Dupont", "Léa", "3A", "123456789AB", False)
    (issue,) = parse(_with(unshared, "Nombre de pix total", "42")).issues
    assert issue.rule is Rule.CAMPAIGN_VALUE_WITHOUT_SHARE


def test_shared_dates_in_french_format_are_accepted():
    (row,) = parse(_with(shared((10,) * 16), "Date de l'envoi", '"12/11/2025 14:03"')).rows
    assert row.shared_at == date(2025, 11, 12)


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", Rule.FILE_EMPTY),
        ("\ufeff".encode("utf-16"), Rule.FILE_ENCODING),
        (b'\xef\xbb\xbf"Nom du Participant";"Pr\xc3\xa9nom du Participant"\n', Rule.FILE_MISSING_COLUMNS),
    ],
)
def test_file_level_errors(data, rule):
    assert rule in [i.rule for i in parse(data).issues]


def test_header_only_export():
    header = campaign_csv_bytes([]).decode("utf-8-sig")
    assert [i.rule for i in parse(header.encode()).issues] == [Rule.FILE_NO_ROWS]


def test_row_with_missing_cells():
    data = campaign_csv_bytes([replace(PARTICIPATIONS[0])]).rstrip(b"\n").rsplit(b";", 3)[0] + b"\n"
    assert [(i.rule, i.line, i.column) for i in parse(data).issues] == [
        (Rule.ROW_COLUMN_COUNT, 2, "Nombre de pix pour la compétence Résoudre des problèmes techniques")
    ]


def test_current_pix_export_bytes_are_read():
    """The layout Pix writes today: "Date et heure de l'envoi (Europe/Paris)" as DD/MM/YYYY HH:mm, the
    campaign id and numbers unquoted, and text starting with = + - @ escaped with a leading '."""
    header = [
        "Nom de l'organisation",
        "ID Campagne",
        "Code",
        "Nom de la campagne",
        "Nom du Participant",
        "Prénom du Participant",
        "Classe",
        "Envoi (O/N)",
        "Date et heure de l'envoi (Europe/Paris)",
        "Nombre de pix total",
        "Certifiable (O/N)",
        "Nombre de compétences certifiables",
    ]
    for c in COMPETENCES:
        header += [f"Niveau pour la compétence {c.name}", f"Nombre de pix pour la compétence {c.name}"]
    start = '"Collège Jean Moulin";4242;"QWERTY456";"\'@Collecte 3e";"\'=Bono";"\'@Jean";"3A";'
    shared_line = start + '"Oui";"05/11/2025 14:30";52;"Non";2;' + ";".join(["1;12", "1;8", *["0;2"] * 14])
    unshared_line = start + '"Non";' + ";".join(['"NA"'] * (4 + 2 * len(COMPETENCES)))
    text = ";".join(f'"{h}"' for h in header) + "\n" + shared_line + "\n" + unshared_line + "\n"
    result = parse(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert result.accepted, result.issues
    first, second = result.rows
    assert (first.last_name, first.first_name, first.division) == ("=Bono", "@Jean", "3A")
    assert first.shared and first.shared_at == date(2025, 11, 5) and first.total_pix == 52
    assert first.file_certifiable is False and first.file_certifiable_count == 2
    assert not second.shared and second.levels is None
