import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.finalisation.domain.results import ResultSource, ResultStatus, results_fingerprint
from services.finalisation.domain.results_csv import parse_class_results_csv
from services.finalisation.domain.results_formats import ResultsFileRejected
from services.finalisation.domain.results_livret import parse_livret_scolaire_json
from shared.contracts.pix_formats import CLASS_RESULTS_HEADER_LINE

FIXTURES = Path(__file__).parent / "fixtures"
CLASS_CSV = "20200102_resultats_3A.csv"
EXAMPLE_CSV = "20200101_resultats_3B_example_line.csv"
LIVRET = "livret_certifications_0123456A.json"
VARIANT = "livret_certifications_variant.json"

HEADER_72 = (
    '"Numéro de certification";"Prénom";"Nom";"Date de naissance";"Lieu de naissance";"Identifiant Externe";'
    '"Statut";"Nombre de Pix";"1.1";"1.2";"1.3";"2.1";"2.2";"2.3";"2.4";"3.1";"3.2";"3.3";"3.4";"4.1";"4.2";'
    '"4.3";"5.1";"5.2";"Commentaire jury pour l’organisation";"Session";"Date de passage de la certification"'
)
EXAMPLE_LINE = (
    '123;"Lili";"Oxford";"04/01/1990";"Torreilles";"LOLORD";"Validée";55;0;1;5;"-";"-";"-";"-";"-";"-";"-";'
    '"-";"-";"-";"-";0;0;"RAS";777;"01/01/2020"'
)
DASHES = ";".join(['"-"'] * 16)


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def csv_bytes(*lines: str, bom: bool = True) -> bytes:
    return (("\ufeff" if bom else "") + "\n".join(lines) + "\n").encode("utf-8")


def rejected(call) -> ResultsFileRejected:
    with pytest.raises(ResultsFileRejected) as caught:
        call()
    return caught.value


# -- class results CSV --


def test_fixture_bytes_follow_the_reference():
    data = read(EXAMPLE_CSV)
    assert data == ("\ufeff" + HEADER_72 + "\n" + EXAMPLE_LINE + "\n").encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    assert HEADER_72 == CLASS_RESULTS_HEADER_LINE


def test_the_reference_example_line():
    (result,) = parse_class_results_csv(read(EXAMPLE_CSV), EXAMPLE_CSV)
    assert result.certification_id == 123
    assert (result.first_name, result.last_name, result.birthdate) == ("Lili", "Oxford", date(1990, 1, 4))
    assert (result.birthplace, result.external_id) == ("Torreilles", "LOLORD")
    assert result.status is ResultStatus.VALIDATED and result.pix_score == 55
    assert result.competence_levels == {"1.1": 0, "1.2": 1, "1.3": 5, "5.1": 0, "5.2": 0}
    assert (result.jury_comment, result.session_number, result.taken_on) == ("RAS", 777, date(2020, 1, 1))
    assert result.ine is None and result.verification_code is None
    assert result.source is ResultSource.CLASS_RESULTS_CSV
    assert result.global_level == "LEVEL_PRE_BEGINNER"


def test_a_class_file_with_every_kind_of_row():
    results = {r.certification_id: r for r in parse_class_results_csv(read(CLASS_CSV), CLASS_CSV)}
    assert set(results) == {123, 456, 789, 1011}
    cancelled = results[456]
    assert cancelled.status is ResultStatus.CANCELLED and cancelled.pix_score is None
    assert (
        cancelled.competence_levels == {} and cancelled.external_id is None and cancelled.global_level is None
    )
    assert cancelled.jury_comment == "Trop de questions neutralisées"
    assert results[789].status is ResultStatus.REJECTED and results[789].pix_score == 0
    assert results[1011].last_name == "D'Almeida" and results[1011].pix_score == 312
    assert results[1011].global_level == "LEVEL_INDEPENDENT_3" and results[1011].jury_comment is None
    assert len(results[1011].competence_levels) == 16


@pytest.mark.parametrize(("label", "status"), [("En erreur", "error"), ("Démarrée", "started")])
def test_other_statuses(label, status):
    line = f'5;"A";"B";"01/01/2010";"";"";"{label}";"-";{DASHES};"";9;"01/01/2020"'
    (result,) = parse_class_results_csv(csv_bytes(HEADER_72, line), "f.csv")
    assert result.status.value == status


def test_without_bom_and_with_crlf_line_ends():
    data = ("\r\n".join([HEADER_72, EXAMPLE_LINE]) + "\r\n").encode("utf-8")
    assert len(parse_class_results_csv(data, "excel.csv")) == 1


def test_header_only_is_an_empty_result():
    assert parse_class_results_csv(csv_bytes(HEADER_72), "f.csv") == []


def test_wrong_header_names_file_line_column_and_expected_value():
    wrong = HEADER_72.replace('"Statut"', '"Status"')
    error = rejected(
        lambda: parse_class_results_csv(csv_bytes(wrong, EXAMPLE_LINE), "20200102_resultats_3A.csv")
    )
    assert error.code == "results.bad_header"
    (problem,) = error.problems
    assert (problem.line, problem.column) == (1, "column 7")
    assert "'Statut'" in problem.message and "'Status'" in problem.message
    assert "20200102_resultats_3A.csv" in str(error) and "line 1" in str(error)


def test_header_with_ascii_apostrophe_or_missing_or_extra_columns_is_refused():
    for header in (
        HEADER_72.replace("l’organisation", "l'organisation"),
        HEADER_72.rsplit(";", 1)[0],
        HEADER_72 + ';"Résultat"',
        "",
    ):
        assert (
            rejected(lambda h=header: parse_class_results_csv(csv_bytes(h), "f.csv")).code
            == "results.bad_header"
        )
    assert rejected(lambda: parse_class_results_csv(b"", "f.csv")).code == "results.bad_header"


def test_english_export_is_refused_with_the_expected_header():
    english = HEADER_72.replace("Numéro de certification", "Certification number")
    error = rejected(lambda: parse_class_results_csv(csv_bytes(english), "en.csv"))
    assert error.problems[0].column == "column 1" and "Numéro de certification" in error.problems[0].message


def test_bad_values_name_line_and_field_and_reject_the_whole_file():
    bad_date = EXAMPLE_LINE.replace('"04/01/1990"', '"1990-01-04"')
    bad_status = EXAMPLE_LINE.replace("123;", "124;").replace('"Validée"', '"Validé"')
    bad_level = EXAMPLE_LINE.replace("123;", "125;").replace(";0;1;5;", ";0;9;5;")
    error = rejected(
        lambda: parse_class_results_csv(csv_bytes(HEADER_72, bad_date, bad_status, bad_level), "f.csv")
    )
    assert error.code == "results.bad_values"
    where = [(p.line, p.column) for p in error.problems]
    assert where == [(2, "column 4 (Date de naissance)"), (3, "column 7 (Statut)"), (4, "column 10 (1.2)")]


@pytest.mark.parametrize(
    ("line", "column"),
    [
        (EXAMPLE_LINE.replace("123;", "abc;"), "column 1 (Numéro de certification)"),
        (EXAMPLE_LINE.replace('"Lili"', '""'), "column 2 (Prénom)"),
        (EXAMPLE_LINE.replace(";55;", ";1025;"), "column 8 (Nombre de Pix)"),
        (EXAMPLE_LINE.replace(";55;", ';"-";'), "column 8 (Nombre de Pix)"),
        (EXAMPLE_LINE.replace(";777;", ";;"), "column 26 (Session)"),
        (
            EXAMPLE_LINE.replace('"01/01/2020"', '"31/02/2020"'),
            "column 27 (Date de passage de la certification)",
        ),
    ],
)
def test_each_bad_value(line, column):
    (problem,) = rejected(lambda: parse_class_results_csv(csv_bytes(HEADER_72, line), "f.csv")).problems
    assert (problem.line, problem.column) == (2, column)


def test_wrong_number_of_fields_and_duplicates():
    short = EXAMPLE_LINE.rsplit(";", 1)[0]
    error = rejected(
        lambda: parse_class_results_csv(csv_bytes(HEADER_72, EXAMPLE_LINE, short, EXAMPLE_LINE), "f")
    )
    assert [(p.line, p.column) for p in error.problems] == [
        (3, None),
        (4, "column 1 (Numéro de certification)"),
    ]
    assert "27 fields" in error.problems[0].message and "line 2" in error.problems[1].message


def test_not_utf8_is_refused_with_the_line():
    data = csv_bytes(HEADER_72, EXAMPLE_LINE).replace(b"Lili", "Lélé".encode("cp1252"))
    error = rejected(lambda: parse_class_results_csv(data, "f.csv"))
    assert error.code == "results.bad_encoding" and error.problems[0].line == 2


# -- livret scolaire JSON --


def test_livret_reference_example():
    results = {r.certification_id: r for r in parse_livret_scolaire_json(read(LIVRET), LIVRET)}
    anne = results[123]
    assert (anne.first_name, anne.middle_name, anne.third_name, anne.last_name) == (
        "Anne",
        "Sophie",
        "Bobby",
        "Jerry",
    )
    assert anne.birthdate == date(2000, 1, 29) and anne.ine == "029991043XX"
    assert anne.status is ResultStatus.VALIDATED and anne.pix_score == 520
    assert anne.global_level == "LEVEL_ADVANCED_5"
    assert anne.competence_levels == {"1.1": 6, "5.2": 4}
    assert anne.verification_code == "P-Y468ACDE"
    assert anne.taken_on == date(2024, 3, 12)
    assert anne.delivered_at == datetime(2024, 3, 20, 10, 0, tzinfo=UTC)
    assert anne.certification_center == "Collège Kort Colin"
    assert anne.source is ResultSource.LIVRET_SCOLAIRE_JSON
    pending = results[124]
    assert (
        pending.status is ResultStatus.STARTED and pending.pix_score is None and pending.delivered_at is None
    )
    assert results[125].status is ResultStatus.REJECTED and results[125].pix_score == 0


def test_livret_variant_of_the_lsu_calendar_reference():
    (lea,) = parse_livret_scolaire_json(read(VARIANT), VARIANT)
    assert lea.pix_score == 312 and lea.ine == "123456789AB"
    assert lea.middle_name is None and lea.last_name == "Nguyễn"
    assert lea.competence_levels == {"1.1": 3, "4.2": -1}


def livret(*entries) -> bytes:
    doc = {"data": {"type": "certificationsResults", "attributes": {"certifications": list(entries)}}}
    return json.dumps(doc, indent=2).encode()


def entry(**changes):
    base = json.loads(read(LIVRET))["data"]["attributes"]["certifications"][0]
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "x"}, "id"),
        ({"firstName": ""}, "firstName"),
        ({"birthdate": "29/01/2000"}, "birthdate"),
        ({"nationalStudentId": "12345"}, "nationalStudentId"),
        ({"status": "cancelled"}, "status"),
        ({"pixScore": 2000}, "pixScore"),
        ({"verificationCode": "P-123"}, "verificationCode"),
        ({"verificationCode": "Q-Y468ACDE"}, "verificationCode"),
        ({"date": "yesterday"}, "date"),
        ({"competenceResults": [{"competenceId": "6.1", "level": 2}]}, "competenceResults[0]"),
        ({"competenceResults": [{"competenceId": "1.1", "level": 9}]}, "competenceResults[0]"),
        (
            {"competenceResults": [{"competenceId": "1.1", "level": 2}, {"competenceId": "1.1", "level": 3}]},
            "competenceResults[1]",
        ),
    ],
)
def test_livret_bad_values_name_line_and_field(changes, field):
    data = livret(entry(id=1, lastName="Ok"), entry(**changes))
    error = rejected(lambda: parse_livret_scolaire_json(data, "livret.json"))
    assert error.code == "results.bad_values"
    (problem,) = error.problems
    assert problem.column == f"data.attributes.certifications[1].{field}"
    lines = data.decode().splitlines()
    assert lines[problem.line - 1].strip() == "{"  # the line where that certification starts
    assert problem.line > lines.index(next(line for line in lines if '"Ok"' in line))


def test_livret_entry_line_is_where_its_object_starts():
    data = livret(entry(id=1), entry(id=2, birthdate="nope"))
    (problem,) = rejected(lambda: parse_livret_scolaire_json(data, "l.json")).problems
    lines = data.decode().splitlines()
    assert lines[problem.line - 1].strip() == "{"
    assert '"id": 2' in lines[problem.line]


def test_livret_structure_errors():
    for data, code in [
        (b'{"data": ', "results.bad_json"),
        (b"[]", "results.bad_structure"),
        (b'{"data": {"type": "users"}}', "results.bad_structure"),
        (b'{"data": {"type": "certificationsResults", "attributes": {}}}', "results.bad_structure"),
    ]:
        assert rejected(lambda d=data: parse_livret_scolaire_json(d, "l.json")).code == code
    error = rejected(lambda: parse_livret_scolaire_json(b'{\n"data": ]}', "l.json"))
    assert error.problems[0].line == 2


def test_livret_duplicate_certification_refused():
    data = livret(entry(), entry())
    assert rejected(lambda: parse_livret_scolaire_json(data, "l.json")).code == "results.bad_values"


def test_livret_empty_list_and_optional_nulls():
    assert parse_livret_scolaire_json(livret(), "l.json") == []
    (result,) = parse_livret_scolaire_json(
        livret(
            entry(nationalStudentId=None, verificationCode=None, deliveredAt=None, competenceResults=None)
        ),
        "l",
    )
    assert result.ine is None and result.verification_code is None and result.competence_levels == {}


# -- fingerprint --


def test_fingerprint_ignores_row_order_and_detects_changes():
    results = parse_class_results_csv(read(CLASS_CSV), CLASS_CSV)
    same = results_fingerprint(results)
    assert same == results_fingerprint(reversed(results))
    assert same == results_fingerprint(parse_class_results_csv(read(CLASS_CSV), "renamed.csv"))
    changed = read(CLASS_CSV).replace(b";312;", b";313;")
    assert results_fingerprint(parse_class_results_csv(changed, CLASS_CSV)) != same
    assert len(same) == 64


def test_rejected_line_as_pix_builder_writes_it_quoted_zero_and_empty_cells():
    """Pix's builder writes the rejected score as the string "0" and a missing value as an empty cell."""
    dashes = ";".join(['"-"'] * 14)
    line = (
        f'456;"Tom";"Cambridge";"21/05/1993";"TheMoon";"TOTODGE";"Rejetée";"0";{dashes};0;0;;777;"02/02/2020"'
    )
    (result,) = parse_class_results_csv(csv_bytes(HEADER_72, line), "f.csv")
    assert result.status is ResultStatus.REJECTED and result.pix_score == 0
    assert result.competence_levels == {"5.1": 0, "5.2": 0} and result.jury_comment is None
