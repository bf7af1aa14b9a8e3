"""The Pix Orga learner CSV: every rule, every bad input, accepted whole or rejected whole."""

from dataclasses import replace
from datetime import date

import pytest

from deploy.local.generator import generate_learners, learner_csv_bytes
from services.eligibility.domain.issues import Rule
from services.eligibility.domain.roster import Sex
from services.eligibility.domain.roster_csv import PIX_LEARNER_HEADERS, parse_learner_csv
from shared.contracts.identifiers import mod23_letter
from tests.generated import roster_learners
from tests.learner_rows import HEADER
from tests.learner_rows import learner_row as row

UAI = "0211089V"
TODAY = date(2025, 12, 1)
BEA = "1234567890" + mod23_letter("1234567890")


def parse(text: str, encoding: str = "utf-8", **kwargs):
    return parse_learner_csv(
        text.encode(encoding), file_name="eleves.csv", uai=UAI, reference_date=TODAY, **kwargs
    )


def rules(result) -> list[str]:
    return [issue.rule for issue in result.issues]


def only_issue(result):
    assert not result.accepted and result.learners == ()
    assert len(result.issues) == 1, result.issues
    return result.issues[0]


def test_a_clean_file_is_accepted_with_typed_learners():
    result = parse("\n".join([HEADER, row(), row(ine=BEA, first_name="Hugo", sex="M")]) + "\n")
    assert result.accepted and result.issues == ()
    assert result.uai == UAI and result.source == "learner_csv" and result.encoding == "utf-8"
    lea, hugo = result.learners
    assert lea.birth_date == date(2011, 3, 14) and lea.sex is Sex.FEMALE and lea.division == "3A"
    assert hugo.ine == BEA and hugo.sex is Sex.MALE


def test_generated_file_round_trips():
    learners = generate_learners(5, 300)
    result = parse_learner_csv(learner_csv_bytes(learners), file_name="x.csv", uai=UAI, reference_date=TODAY)
    assert result.accepted
    assert list(result.learners) == roster_learners(learners)


# --- encodings and separators --------------------------------------------------------------------


def test_utf8_with_bom():
    data = b"\xef\xbb\xbf" + "\n".join([HEADER, row(first_name="Zoé")]).encode()
    result = parse_learner_csv(data, file_name="bom.csv", uai=UAI, reference_date=TODAY)
    assert result.accepted and result.encoding == "utf-8-sig"
    assert result.learners[0].first_name == "Zoé"


def test_windows_1252_from_excel_with_crlf():
    text = (
        "\r\n".join([HEADER, row(first_name="Maëlys", last_name="Lefèvre", birth_city="CÔTE-D’OR")]) + "\r\n"
    )
    result = parse(text, encoding="cp1252")
    assert result.accepted and result.encoding == "cp1252"
    assert (result.learners[0].first_name, result.learners[0].last_name) == ("Maëlys", "Lefèvre")
    assert result.learners[0].birth_city == "CÔTE-D’OR"


def test_comma_separated_file_is_sniffed():
    learners = generate_learners(9, 20)
    data = learner_csv_bytes(learners, delimiter=",")
    result = parse_learner_csv(data, file_name="comma.csv", uai=UAI, reference_date=TODAY)
    assert result.accepted and list(result.learners) == roster_learners(learners)


def test_quoted_cells_with_separator_inside():
    result = parse("\n".join([HEADER, row(birth_city='"SAINT-DENIS; LA RÉUNION"')]))
    assert result.accepted and result.learners[0].birth_city == "SAINT-DENIS; LA RÉUNION"


def test_older_column_order_is_read_by_name():
    fields = list(PIX_LEARNER_HEADERS)
    fields.remove(next(f for f in fields if f.value == "sex"))
    fields.append(next(f for f in PIX_LEARNER_HEADERS if f.value == "sex"))
    header = ";".join(PIX_LEARNER_HEADERS[f] for f in fields)
    values = dict(zip(PIX_LEARNER_HEADERS, row().split(";"), strict=True))
    line = ";".join(values[f] for f in fields)
    result = parse("\n".join([header, line]))
    assert result.accepted and result.learners[0].sex is Sex.FEMALE


def test_headers_without_asterisks_and_without_optional_columns():
    header = "Identifiant unique;Premier prénom;Nom de famille;Date de naissance;Code commune naissance;"
    header += "Libellé commune naissance;Code département naissance;Code pays naissance;Statut;Code MEF;"
    header += "Division;Code sexe"
    line = "123456789AB;Léa;Dupont;14/03/2011;21231;DIJON;021;100;ST;10310019110;3A;F"
    assert parse("\n".join([header, line])).accepted


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ("Identifiant unique*".encode("utf-16"), None),  # UTF-16 with BOM
        ("Identifiant unique*;Premier prénom*".encode("utf-16-le"), None),  # UTF-16 without BOM: NUL bytes
        (bytes(range(256)) * 4, None),  # binary
        (b"PK\x03\x04" + b"\x14\x00" * 50, None),  # a .xlsx (zip)
        (b"\xef\xbb\xbfIdentifiant \xe9", 1),  # BOM announces UTF-8, then Latin-1
        (b"Identifiant\x81\x8d\x8f unique", 1),  # undefined in cp1252
        (b"Identifiant\x07 unique;\x1bx", 1),  # control characters: not text
    ],
)
def test_wrong_encoding_is_a_clear_file_error(data, line):
    issue = only_issue(parse_learner_csv(data, file_name="bad.csv", uai=UAI, reference_date=TODAY))
    assert issue.rule is Rule.FILE_ENCODING and issue.line == line and issue.message


@pytest.mark.parametrize(
    ("bom", "bad", "where"),
    [
        (b"\xef\xbb\xbf", b"\xe9", "octet 5 de la ligne 3"),  # UTF-8 file, one Latin-1 byte
        (b"", b"\x81", "octet 5 de la ligne 3"),  # no BOM: read as cp1252, where 0x81 is undefined
        (b"", b"\x0c", "caractère 5 de la ligne 3"),  # a form feed
    ],
)
def test_encoding_error_inside_the_file_names_its_line(bom, bad, where):
    data = bom + f"{HEADER}\r\n{row()}\r\n".encode() + b"1234" + bad + row(ine=BEA)[4:].encode()
    issue = only_issue(parse_learner_csv(data, file_name="bad.csv", uai=UAI, reference_date=TODAY))
    assert (issue.line, issue.rule) == (3, Rule.FILE_ENCODING)
    assert where in issue.message


# --- file-level structure ------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"])
def test_empty_file(data):
    issue = only_issue(parse_learner_csv(data, file_name="vide.csv", uai=UAI, reference_date=TODAY))
    assert issue.rule is Rule.FILE_EMPTY


def test_header_only_is_rejected_rather_than_deactivating_everybody():
    assert rules(parse(HEADER + "\n")) == [Rule.FILE_NO_ROWS]


def test_missing_required_columns_are_named():
    header = HEADER.replace("Code MEF*;", "").replace(";Division*", "")
    issues = parse(header + "\n" + "x").issues
    assert [(i.line, i.column, i.rule) for i in issues] == [
        (1, "Code MEF*", Rule.FILE_MISSING_COLUMNS),
        (1, "Division*", Rule.FILE_MISSING_COLUMNS),
    ]
    assert "Code MEF*" in issues[0].message


def test_unknown_extra_columns_are_rejected_by_name():
    issues = parse(HEADER + ";Régime;Option\n" + row() + ";DP;Latin").issues
    assert [(i.line, i.column, i.rule) for i in issues] == [
        (1, "Régime", Rule.FILE_UNKNOWN_COLUMNS),
        (1, "Option", Rule.FILE_UNKNOWN_COLUMNS),
    ]
    assert "« Régime »" in issues[0].message


def test_duplicated_column():
    issue = only_issue(parse(HEADER + ";Division\n" + row() + ";3B"))
    assert (issue.line, issue.column, issue.rule) == (1, "Division", Rule.FILE_DUPLICATE_COLUMNS)


def test_tab_separated_file_is_reported_as_missing_and_unknown_columns():
    result = parse(HEADER.replace(";", "\t") + "\n" + row().replace(";", "\t"))
    assert set(rules(result)) == {Rule.FILE_MISSING_COLUMNS, Rule.FILE_UNKNOWN_COLUMNS}


def test_row_with_wrong_cell_count():
    result = parse("\n".join([HEADER, row(), row(ine=BEA) + ";extra"]))
    issue = only_issue(result)
    assert (issue.rule, issue.line, issue.column) == (Rule.ROW_COLUMN_COUNT, 3, "#16")
    short = only_issue(parse("\n".join([HEADER, row().rsplit(";", 1)[0]])))
    assert (short.rule, short.line, short.column) == (Rule.ROW_COLUMN_COUNT, 2, "Division*")


def test_size_limit_is_enforced_before_reading():
    issue = only_issue(parse("\n".join([HEADER, row()]), max_bytes=100))
    assert issue.rule is Rule.FILE_TOO_LARGE and "Mo" in issue.message


def test_school_uai_is_checked():
    data = "\n".join([HEADER, row()]).encode()
    assert rules(parse_learner_csv(data, file_name="a.csv", uai="0211089A", reference_date=TODAY)) == [
        Rule.UAI_INVALID_CHECK_LETTER
    ]
    assert rules(parse_learner_csv(data, file_name="a.csv", uai="21089V", reference_date=TODAY)) == [
        Rule.UAI_INVALID_FORMAT
    ]


# --- cell rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "column", "rule"),
    [
        ({"ine": "12345678AB"}, "Identifiant unique*", Rule.INE_INVALID_FORMAT),
        (
            {"ine": BEA[:-1] + ("A" if BEA[-1] != "A" else "B")},
            "Identifiant unique*",
            Rule.INE_INVALID_CHECK_LETTER,
        ),
        ({"ine": ""}, "Identifiant unique*", Rule.CELL_REQUIRED),
        ({"first_name": "  "}, "Premier prénom*", Rule.CELL_REQUIRED),
        ({"last_name": ""}, "Nom de famille*", Rule.CELL_REQUIRED),
        ({"birth_date": "2011-03-14"}, "Date de naissance (jj/mm/aaaa)*", Rule.DATE_INVALID_FORMAT),
        ({"birth_date": "14/03/11"}, "Date de naissance (jj/mm/aaaa)*", Rule.DATE_INVALID_FORMAT),
        ({"birth_date": "31/02/2011"}, "Date de naissance (jj/mm/aaaa)*", Rule.DATE_NOT_A_CALENDAR_DATE),
        ({"birth_date": "29/02/2011"}, "Date de naissance (jj/mm/aaaa)*", Rule.DATE_NOT_A_CALENDAR_DATE),
        ({"birth_date": "01/13/2011"}, "Date de naissance (jj/mm/aaaa)*", Rule.DATE_NOT_A_CALENDAR_DATE),
        ({"birth_date": "01/01/1900"}, "Date de naissance (jj/mm/aaaa)*", Rule.DATE_OUT_OF_RANGE),
        ({"birth_date": "01/01/2024"}, "Date de naissance (jj/mm/aaaa)*", Rule.DATE_OUT_OF_RANGE),
        ({"birth_date": "01/01/2030"}, "Date de naissance (jj/mm/aaaa)*", Rule.DATE_OUT_OF_RANGE),
        ({"sex": "X"}, "Code sexe*", Rule.SEX_INVALID),
        ({"sex": "3"}, "Code sexe*", Rule.SEX_INVALID),
        ({"status": "XX"}, "Statut*", Rule.STATUS_INVALID),
        ({"birth_country_code": "FR"}, "Code pays naissance*", Rule.BIRTH_COUNTRY_INVALID),
        (
            {"birth_department_code": "Côte-d'Or"},
            "Code département naissance*",
            Rule.BIRTH_DEPARTMENT_INVALID,
        ),
        ({"birth_city_code": "2123"}, "Code commune naissance**", Rule.BIRTH_CITY_CODE_INVALID),
        ({"birth_city_code": ""}, "Code commune naissance**", Rule.BIRTH_CITY_CODE_REQUIRED),
        (
            {
                "birth_country_code": "351",
                "birth_city_code": "",
                "birth_city": "",
                "birth_department_code": "099",
            },
            "Libellé commune naissance**",
            Rule.BIRTH_CITY_REQUIRED,
        ),
        ({"division": "X" * 21}, "Division*", Rule.CELL_TOO_LONG),
        ({"last_name": "D" * 256}, "Nom de famille*", Rule.CELL_TOO_LONG),
        ({"mef_code": ""}, "Code MEF*", Rule.CELL_REQUIRED),
    ],
)
def test_each_cell_rule_names_line_column_and_rule(overrides, column, rule):
    issue = only_issue(parse("\n".join([HEADER, row(ine=BEA, first_name="Hugo"), row(**overrides)])))
    assert (issue.file_name, issue.line, issue.column, issue.rule) == ("eleves.csv", 3, column, rule)
    assert issue.message and str(issue).startswith("eleves.csv:3 [")


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+33123", "-1+1", "@SUM(A1)", "\tx"])
def test_formula_injection_has_its_own_rule(value):
    issue = only_issue(parse("\n".join([HEADER, row(last_name=f'"{value}"')])))
    assert (issue.rule, issue.column, issue.line) == (Rule.CELL_FORMULA_INJECTION, "Nom de famille*", 2)


@pytest.mark.parametrize(
    ("raw", "sex"), [("M", Sex.MALE), ("f", Sex.FEMALE), ("1", Sex.MALE), ("2", Sex.FEMALE)]
)
def test_sex_accepts_m_f_and_siecle_1_2(raw, sex):
    assert parse("\n".join([HEADER, row(sex=raw)])).learners[0].sex is sex


def test_born_abroad_needs_no_city_code_and_country_99xxx_is_normalised():
    result = parse(
        "\n".join(
            [
                HEADER,
                row(
                    birth_country_code="99351",
                    birth_city_code="",
                    birth_city="ALGER",
                    birth_department_code="99",
                ),
            ]
        )
    )
    assert result.accepted and result.learners[0].birth_country_code == "351"


def test_lower_case_ine_and_single_digit_dates_are_normalised():
    result = parse("\n".join([HEADER, row(ine="123456789ab", birth_date="4/3/2011", status="st")]))
    learner = result.learners[0]
    assert (learner.ine, learner.birth_date, learner.status) == ("123456789AB", date(2011, 3, 4), "ST")


def test_same_ine_twice():
    result = parse("\n".join([HEADER, row(), row(first_name="Autre")]))
    issue = only_issue(result)
    assert (issue.rule, issue.line, issue.column) == (Rule.INE_DUPLICATE, 3, "Identifiant unique*")
    assert "ligne 2" in issue.message


def test_same_names_and_birth_date_under_two_ines():
    result = parse("\n".join([HEADER, row(), row(ine=BEA, first_name="LEA", last_name="dupont")]))
    issue = only_issue(result)
    assert (issue.rule, issue.line) == (Rule.LEARNER_DUPLICATE_IDENTITY, 3)


def test_every_error_of_the_file_is_listed_and_nothing_is_accepted():
    text = "\n".join(
        [
            HEADER,
            row(),
            row(ine="bad", birth_date="32/01/2011", sex="Z"),
            "",  # blank lines are ignored but still counted
            row(ine=BEA, first_name="Hugo", division="=cmd|' /C calc'!A0", status="?"),
        ]
    )
    result = parse(text)
    assert result.learners == ()
    assert [(i.line, i.rule) for i in result.issues] == [
        (3, Rule.INE_INVALID_FORMAT),
        (3, Rule.DATE_NOT_A_CALENDAR_DATE),
        (3, Rule.SEX_INVALID),
        (5, Rule.CELL_FORMULA_INJECTION),
        (5, Rule.STATUS_INVALID),
    ]


def test_line_numbers_count_physical_lines_of_multiline_cells():
    text = "\n".join([HEADER, row(birth_city='"SAINT\nDENIS"'), row(ine=BEA, first_name="Hugo", sex="?")])
    assert only_issue(parse(text)).line == 4


def test_a_20_mb_file_is_accepted_whole():
    """Correctness at size; its speed is measured by tests/benchmarks/bench_eligibility_parsing.py."""
    learners = [learner for learner in generate_learners(11, 3_000) if learner.ine[-2].isalpha()]  # RNIE
    parts = [learner_csv_bytes(learners)]
    size, copy = len(parts[0]), 0
    while size < 20 * 1024 * 1024:  # repeat with fresh INEs and first names so every row stays unique
        copy += 1
        shifted = [
            replace(x, ine=f"{copy:04d}{i:05d}{x.ine[-2:]}", first_name=f"{x.first_name}{copy}")
            for i, x in enumerate(learners)
        ]
        parts.append(learner_csv_bytes(shifted).split(b"\n", 1)[1])
        size += len(parts[-1])
    data = b"".join(parts)
    assert len(data) >= 20 * 1024 * 1024
    result = parse_learner_csv(data, file_name="big.csv", uai=UAI, reference_date=TODAY)
    assert result.accepted, result.issues[:3]
    assert len(result.learners) == len(learners) * (copy + 1) > 200_000
