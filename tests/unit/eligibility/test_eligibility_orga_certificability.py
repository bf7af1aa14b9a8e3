"""The Orga certificability file (README: Orga has no export, certibus documents its own CSV) and
the "more recent wins" rule Pix Orga's Certificabilité column applies."""

from __future__ import annotations

from datetime import date

import pytest

from deploy.local.generator import (
    ORGA_CERTIFICABILITY_HEADER,
    OrgaCertificability,
    generate_learners,
    generate_orga_certificability,
    orga_certificability_csv_bytes,
)
from services.eligibility.domain.certifiability import (
    AssessmentOrigin,
    CertifiabilityStatus,
    CurrentAssessment,
    replaces,
)
from services.eligibility.domain.issues import Rule
from services.eligibility.domain.orga_certificability import HEADER_LINE, parse_orga_certificability

TODAY = date(2026, 12, 4)
LEARNERS = generate_learners(31, 30)


def parse(data: bytes):
    return parse_orga_certificability(data, file_name="orga.csv", today=TODAY)


def errors(data: bytes) -> list[tuple[int | None, str | None, str]]:
    result = parse(data)
    assert not result.accepted and result.rows == ()
    assert all(i.file_name == "orga.csv" and i.message for i in result.issues)
    return [(i.line, i.column, str(i.rule)) for i in result.issues]


def test_the_generated_file_has_the_documented_header_byte_for_byte():
    data = orga_certificability_csv_bytes(
        [
            OrgaCertificability("123456789AB", True, date(2026, 11, 14)),
            OrgaCertificability("0123456789A", False, date(2026, 11, 14)),
            OrgaCertificability("123456789CD", None),
        ]
    )
    assert (
        data
        == (
            "INE;Certificabilité;Date de certificabilité\n"
            "123456789AB;Certifiable;14/11/2026\n"
            "0123456789A;Non certifiable;14/11/2026\n"
            "123456789CD;Non communiqué;\n"
        ).encode()
    )
    assert ORGA_CERTIFICABILITY_HEADER == HEADER_LINE


def test_a_generated_file_is_read_back_exactly():
    rows = generate_orga_certificability(7, LEARNERS, certifiable_rate=0.6, not_available_rate=0.2)
    assert {r.certifiable for r in rows} == {True, False, None}
    result = parse(orga_certificability_csv_bytes(rows))
    assert result.accepted and result.encoding == "utf-8"
    assert [(r.ine, r.certifiable, r.certifiable_at) for r in result.rows] == [
        (r.ine, r.certifiable, r.certifiable_at) for r in rows
    ]
    assert [r.line for r in result.rows] == list(range(2, len(rows) + 2))


def test_the_same_seed_gives_the_same_file():
    one = orga_certificability_csv_bytes(generate_orga_certificability(5, LEARNERS))
    assert one == orga_certificability_csv_bytes(generate_orga_certificability(5, LEARNERS))
    assert one != orga_certificability_csv_bytes(generate_orga_certificability(6, LEARNERS))


def test_excel_resave_with_bom_commas_quotes_oui_non_and_iso_dates_is_read():
    data = '\ufeff"ine","CERTIFICABILITE","date de certificabilite"\r\n"123456789ab","Oui","2026-11-30"\r\n'
    result = parse(data.encode("utf-8"))
    assert result.accepted
    [row] = result.rows
    assert (row.ine, row.certifiable, row.certifiable_at) == ("123456789AB", True, date(2026, 11, 30))


def test_every_bad_cell_is_reported_with_its_line_and_column():
    data = (
        (
            HEADER_LINE + "\n"
            "12345;Certifiable;14/11/2026\n"  # 2: INE format
            "123456789AB;Peut-être;14/11/2026\n"  # 3: unknown label
            "0123456789B;Certifiable;14/11/2026\n"  # 4: wrong check letter (0123456789 → A)
            "123456789CD;Non certifiable;\n"  # 5: date missing
            "123456789EF;Non communiqué;01/12/2026\n"  # 6: a date without a status
            "123456789GH;Certifiable;31/02/2026\n"  # 7: not a calendar date
            "123456789JK;Certifiable;05/12/2026\n"  # 8: after the import day
            "123456789LM;Certifiable;14-11-2026\n"  # 9: format
            "123456789AB;Certifiable;14/11/2026\n"  # 10: first valid 123456789AB (line 3 was refused)
            "123456789AB;Non certifiable;15/11/2026\n"  # 11: duplicate of line 10
            ";Certifiable;14/11/2026\n"  # 12: INE required
            "=cmd();Certifiable;14/11/2026\n"  # 13: formula
            "123456789NP;Certifiable\n"  # 14: a cell short
        ).encode()
    )
    assert errors(data) == [
        (2, "INE", "ine.invalid_format"),
        (3, "Certificabilité", "orga.invalid_certificability"),
        (4, "INE", "ine.invalid_check_letter"),
        (5, "Date de certificabilité", "cell.required"),
        (6, "Date de certificabilité", "orga.date_without_status"),
        (7, "Date de certificabilité", "date.not_a_calendar_date"),
        (8, "Date de certificabilité", "date.out_of_range"),
        (9, "Date de certificabilité", "date.invalid_format"),
        (11, "INE", "ine.duplicate"),
        (12, "INE", "cell.required"),
        (13, "INE", "cell.formula_injection"),
        (14, "Date de certificabilité", "row.column_count"),
    ]


def test_header_problems_are_named_on_line_one():
    assert errors(b"INE;Certifiable (O/N);Nom\n123456789AB;Oui;x\n") == [
        (1, "Certifiable (O/N)", "file.unknown_columns"),
        (1, "Nom", "file.unknown_columns"),
        (1, "Certificabilité", "file.missing_columns"),
        (1, "Date de certificabilité", "file.missing_columns"),
    ]
    assert errors(b"INE;INE;Certificabilit\xc3\xa9;Date de certificabilit\xc3\xa9\n") == [
        (1, "INE", "file.duplicate_columns")
    ]


def test_empty_header_only_and_binary_files_are_refused():
    assert errors(b"") == [(None, None, str(Rule.FILE_EMPTY))]
    assert errors(HEADER_LINE.encode() + b"\n") == [(None, None, str(Rule.FILE_NO_ROWS))]
    assert errors(b"PK\x03\x04xlsx") == [(None, None, str(Rule.FILE_ENCODING))]


CAMPAIGN, ORGA = AssessmentOrigin.CAMPAIGN_EXPORT, AssessmentOrigin.ORGA_CERTIFICABILITY
YES, NO, UNKNOWN = (
    CertifiabilityStatus.CERTIFIABLE,
    CertifiabilityStatus.NOT_CERTIFIABLE,
    CertifiabilityStatus.UNKNOWN,
)
D1, D2 = date(2026, 11, 10), date(2026, 11, 20)


@pytest.mark.parametrize(
    ("new", "current", "wins"),
    [
        ((YES, ORGA, D1), None, True),
        ((YES, ORGA, D1), CurrentAssessment(NO, CAMPAIGN, D2), False),  # the later share stays
        ((YES, ORGA, D2), CurrentAssessment(NO, CAMPAIGN, D1), True),
        ((YES, ORGA, D1), CurrentAssessment(NO, CAMPAIGN, D1), True),  # Orga wins a tie, as in Pix
        ((NO, CAMPAIGN, D1), CurrentAssessment(YES, ORGA, D1), False),  # … whichever came first
        ((NO, CAMPAIGN, D2), CurrentAssessment(YES, ORGA, D1), True),
        ((NO, CAMPAIGN, D1), CurrentAssessment(YES, CAMPAIGN, D1), True),  # same origin: same day replaces
        ((NO, ORGA, D1), CurrentAssessment(YES, ORGA, D2), False),
        ((YES, ORGA, D1), CurrentAssessment(UNKNOWN, CAMPAIGN, None), True),
        ((UNKNOWN, CAMPAIGN, None), CurrentAssessment(YES, ORGA, D1), False),  # unknown never erases
    ],
)
def test_the_more_recent_wins_as_pix_orga_shows_it(new, current, wins):
    assert replaces(*new, current) is wins
