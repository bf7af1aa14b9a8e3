"""Every refused roster: 422 naming file, line, column and rule; nothing stored, nothing emitted."""

from __future__ import annotations

import pytest
from eligibility_component_support import (
    HEADER,
    INE_COLUMN,
    UAI,
    bea,
    learner_row,
    rejected_errors,
    roster_csv,
    stored_counts,
    upload_roster,
)

from deploy.local.generator import generate_learners, siecle_xml_bytes
from services.eligibility.app import definition
from shared.contracts.identifiers import mod23_letter

pytestmark = pytest.mark.integration

NOTHING = {
    "learners": 0,
    "roster_imports": 0,
    "campaign_imports": 0,
    "assessments": 0,
    "assessment_disagreements": 0,
    "outbox": 0,
}
BIRTH_DATE_COLUMN = "Date de naissance (jj/mm/aaaa)*"


async def refused(svc, file_name: str, data: bytes, uai: str = UAI) -> list[dict]:
    errors = rejected_errors(await upload_roster(svc, file_name, data, uai), file_name)
    assert await stored_counts(svc) == NOTHING
    return errors


async def test_utf16_file_is_refused_for_its_encoding(eligibility):
    data = roster_csv(learner_row()).decode().encode("utf-16")
    [error] = await refused(eligibility, "eleves.csv", data)
    assert error["rule"] == "file.encoding" and error["line"] is None and error["column"] is None


async def test_binary_spreadsheet_is_refused_for_its_encoding(eligibility):
    [error] = await refused(eligibility, "eleves.xlsx", b"PK\x03\x04" + b"\x00" * 200)
    assert error["rule"] == "file.encoding"


async def test_missing_required_column_is_named(eligibility):
    header = HEADER.replace(";Division*", "")
    row = learner_row().rsplit(";", 1)[0]
    [error] = await refused(eligibility, "eleves.csv", roster_csv(row, header=header))
    assert (error["line"], error["column"], error["rule"]) == (1, "Division*", "file.missing_columns")
    assert "Division*" in error["message"]


async def test_extra_columns_are_refused_not_ignored(eligibility):
    data = roster_csv(learner_row() + ";bonus", header=HEADER + ";Téléphone")
    [error] = await refused(eligibility, "eleves.csv", data)
    assert (error["line"], error["column"], error["rule"]) == (1, "Téléphone", "file.unknown_columns")
    assert "Téléphone" in error["message"]


async def test_bad_ine_names_line_and_column(eligibility):
    data = roster_csv(learner_row(), learner_row(ine="12345", first_name="Hugo", sex="M"))
    [error] = await refused(eligibility, "eleves.csv", data)
    assert (error["line"], error["column"], error["rule"]) == (3, INE_COLUMN, "ine.invalid_format")


async def test_ine_with_wrong_check_letter_is_refused(eligibility):
    good = bea("1234567890")
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    [error] = await refused(eligibility, "eleves.csv", roster_csv(learner_row(ine=wrong)))
    assert (error["line"], error["column"], error["rule"]) == (2, INE_COLUMN, "ine.invalid_check_letter")


async def test_school_uai_with_wrong_check_letter_is_refused(eligibility):
    [error] = await refused(eligibility, "eleves.csv", roster_csv(learner_row()), uai="0211089A")
    assert error["rule"] == "uai.invalid_check_letter" and error["file"] == "eleves.csv"


async def test_siecle_export_of_another_school_is_refused(eligibility):
    xml = siecle_xml_bytes(generate_learners(7, 3), "0750001" + mod23_letter("0750001"))
    errors = await refused(eligibility, "ElevesSansAdresses.xml", xml)
    assert [(e["rule"], e["column"]) for e in errors] == [("xml.uai_mismatch", "PARAMETRES/UAJ")]


async def test_impossible_and_malformed_dates_are_each_reported(eligibility):
    data = roster_csv(
        learner_row(birth_date="31/02/2011"),
        learner_row(ine=bea("1111111111"), first_name="Hugo", sex="M", birth_date="2011-03-14"),
        learner_row(ine=bea("2222222222"), first_name="Inès", birth_date="01/01/1890"),
    )
    errors = await refused(eligibility, "eleves.csv", data)
    assert [(e["line"], e["column"], e["rule"]) for e in errors] == [
        (2, BIRTH_DATE_COLUMN, "date.not_a_calendar_date"),
        (3, BIRTH_DATE_COLUMN, "date.invalid_format"),
        (4, BIRTH_DATE_COLUMN, "date.out_of_range"),
    ]


async def test_duplicate_ine_names_both_lines(eligibility):
    data = roster_csv(learner_row(), learner_row(first_name="Hugo", sex="M"))
    [error] = await refused(eligibility, "eleves.csv", data)
    assert (error["line"], error["column"], error["rule"]) == (3, INE_COLUMN, "ine.duplicate")
    assert "ligne 2" in error["message"]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf  \r\n"])
async def test_empty_file_is_refused(eligibility, data):
    [error] = await refused(eligibility, "eleves.csv", data)
    assert error["rule"] == "file.empty"


async def test_header_only_file_is_refused(eligibility):
    [error] = await refused(eligibility, "eleves.csv", roster_csv())
    assert error["rule"] == "file.no_rows"


async def test_20_mb_file_over_the_limit_is_refused_without_being_parsed(start_service):
    svc = await start_service(definition, max_upload_bytes=10 * 1024 * 1024)
    row = learner_row() + "\n"
    data = roster_csv() + row.encode() * (20 * 1024 * 1024 // len(row.encode()))
    assert len(data) >= 20_000_000
    [error] = await refused(svc, "academie.csv", data)
    assert error["rule"] == "file.too_large" and "10 Mo" in error["message"]


@pytest.mark.parametrize("cell", ['=HYPERLINK("x")', "+33612345678", "-2+3", "@SUM(A1)"])
async def test_cells_that_a_spreadsheet_would_execute_are_refused(eligibility, cell):
    [error] = await refused(eligibility, "eleves.csv", roster_csv(learner_row(first_name=cell)))
    assert (error["line"], error["column"], error["rule"]) == (
        2,
        "Premier prénom*",
        "cell.formula_injection",
    )


async def test_every_error_of_the_file_is_listed_at_once(eligibility):
    data = roster_csv(
        learner_row(ine="bad"),
        learner_row(ine=bea("1111111111"), first_name="=cmd", sex="X"),
        learner_row(ine=bea("2222222222"), first_name="Inès", division=""),
    )
    errors = await refused(eligibility, "eleves.csv", data)
    assert [(e["line"], e["rule"]) for e in errors] == [
        (2, "ine.invalid_format"),
        (3, "cell.formula_injection"),
        (3, "sex.invalid"),
        (4, "cell.required"),
    ]


async def test_a_refused_reimport_leaves_the_previous_roster_untouched(eligibility):
    first = roster_csv(learner_row(), learner_row(ine=bea("1111111111"), first_name="Hugo", sex="M"))
    assert (await upload_roster(eligibility, "eleves.csv", first)).status_code == 200
    before = await stored_counts(eligibility)
    bad = roster_csv(learner_row(division="3B"), learner_row(ine="oops", first_name="Hugo", sex="M"))
    rejected_errors(await upload_roster(eligibility, "eleves-v2.csv", bad), "eleves-v2.csv")
    assert await stored_counts(eligibility) == before
    divisions = await eligibility.pool.fetch("SELECT division, active FROM learners")
    assert {(r["division"], r["active"]) for r in divisions} == {("3A", True)}


async def test_raw_body_upload_needs_a_file_name(eligibility):
    response = await eligibility.http.post(f"/schools/{UAI}/rosters", content=roster_csv(learner_row()))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "upload.file_name_missing"
    assert await stored_counts(eligibility) == NOTHING
