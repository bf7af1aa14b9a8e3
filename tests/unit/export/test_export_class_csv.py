import hashlib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.export.domain.class_csv import (
    COMPETENCE_COLUMNS,
    REJECTED_AUTOMATICALLY_COMMENT,
    data_line,
    render_class_results_csv,
)
from services.export.domain.naming import class_results_file_name, safe_file_component
from services.export.domain.records import ResultStatus
from services.export.domain.selection import ExportIndex, select_class_results, with_roster_birthplace
from services.export.domain.summaries import produce_class_results
from shared.contracts.referential import COMPETENCE_IDS

HEADER_BYTES = (
    '"Numéro de certification";"Prénom";"Nom";"Date de naissance";"Lieu de naissance";'
    '"Identifiant Externe";"Statut";"Nombre de Pix";"1.1";"1.2";"1.3";"2.1";"2.2";"2.3";"2.4";'
    '"3.1";"3.2";"3.3";"3.4";"4.1";"4.2";"4.3";"5.1";"5.2";"Commentaire jury pour l’organisation";'
    '"Session";"Date de passage de la certification"'
).encode()

EXAMPLE_LINE = (
    '123;"Lili";"Oxford";"04/01/1990";"Torreilles";"LOLORD";"Validée";55;0;1;5;"-";"-";"-";"-";'
    '"-";"-";"-";"-";"-";"-";"-";0;0;"RAS";777;"01/01/2020"'
)

UAI_LOWER = "0751234a"
PARIS_WINTER = timezone(timedelta(hours=1))


def example_result(make, certification_id=123, **overrides):
    learner = make.learner("lili")
    values = {
        "first_name": "Lili",
        "last_name": "Oxford",
        "birthdate": date(1990, 1, 4),
        "birthplace": "Torreilles",
        "external_id": "LOLORD",
        "pix_score": 55,
        "competence_levels": {"1.1": -1, "1.2": 1, "1.3": 5, "5.1": 0, "5.2": -1},
        "jury_comment_for_organization": "RAS",
        "session_number": 777,
        "taken_at": datetime(2020, 1, 1, 10, 0, tzinfo=PARIS_WINTER),
    }
    values.update(overrides)
    return make.result(make.candidate(learner), certification_id, **values)


def test_file_starts_with_bom_then_the_exact_header(make):
    content = render_class_results_csv([])
    assert content.startswith(b"\xef\xbb\xbf")
    assert content == b"\xef\xbb\xbf" + HEADER_BYTES


def test_competence_columns_follow_the_referential():
    assert COMPETENCE_COLUMNS == COMPETENCE_IDS


def test_reference_example_line_is_reproduced_byte_for_byte(make):
    content = render_class_results_csv([example_result(make)])
    assert content == b"\xef\xbb\xbf" + HEADER_BYTES + b"\n" + EXAMPLE_LINE.encode("utf-8")


def test_lines_end_with_lf_and_use_semicolons(make):
    first = example_result(make)
    second = example_result(make, certification_id=124)
    text = render_class_results_csv([first, second]).decode("utf-8-sig")
    lines = text.split("\n")
    assert len(lines) == 3 and "\r" not in text
    assert all(line.count(";") == 26 for line in lines)


def test_cancelled_line_has_dashes_for_score_and_every_competence(make):
    line = data_line(
        example_result(make, status=ResultStatus.CANCELLED, jury_comment_for_organization="Fraude")
    )
    dashes = ";".join(['"-"'] * 17)
    assert (
        line
        == f'123;"Lili";"Oxford";"04/01/1990";"Torreilles";"LOLORD";"Annulée";{dashes};"Fraude";777;"01/01/2020"'
    )


def test_error_line_is_like_cancelled(make):
    line = data_line(example_result(make, status=ResultStatus.ERROR))
    assert ';"En erreur";' + ";".join(['"-"'] * 17) + ';"RAS";' in line


def rejected_result(make, **overrides):
    values = {
        "first_name": "Tom",
        "last_name": "Cambridge",
        "birthdate": date(1993, 5, 21),
        "birthplace": "TheMoon",
        "external_id": "TOTODGE",
        "status": ResultStatus.REJECTED,
        "pix_score": 66,
        "competence_levels": {"5.1": 3, "5.2": -1},
        "rejected_automatically": True,
        "taken_at": datetime(2020, 2, 2, tzinfo=UTC),
    }
    values.update(overrides)
    return example_result(make, 456, **values)


def test_rejected_line_matches_pix_quoted_zero_and_zero_for_tested_competences(make):
    dashes = ";".join(['"-"'] * 14)
    assert data_line(rejected_result(make)) == (
        f'456;"Tom";"Cambridge";"21/05/1993";"TheMoon";"TOTODGE";"Rejetée";"0";{dashes};0;0;'
        f'"{REJECTED_AUTOMATICALLY_COMMENT}";777;"02/02/2020"'
    )


def test_missing_comment_is_an_empty_unquoted_cell(make):
    line = data_line(rejected_result(make, rejected_automatically=False, jury_comment_for_organization=None))
    assert line.endswith(';0;0;;777;"02/02/2020"')


def test_started_label(make):
    line = data_line(example_result(make, status=ResultStatus.STARTED, pix_score=None, competence_levels={}))
    assert ';"Démarrée";"-";' in line


def test_text_is_quoted_with_inner_quotes_doubled(make):
    line = data_line(example_result(make, jury_comment_for_organization='dit "absent"', birthplace=""))
    assert ';"dit ""absent""";' in line
    assert ';"04/01/1990";"";"LOLORD";' in line


@pytest.mark.parametrize("dangerous", ["=SUM(A1)", "+33 1", "-2+3", "@cmd", "\tx"])
def test_formula_like_text_is_neutralised(make, dangerous):
    line = data_line(example_result(make, external_id=dangerous))
    assert ";\"'" + dangerous + '";"Validée";' in line


def test_placeholder_dash_is_not_neutralised(make):
    line = data_line(example_result(make, external_id="-x"))
    assert ';"\'-x";' in line
    assert line.count('"-"') == 11 and "'-\"" not in line


def test_certification_date_is_the_french_calendar_day(make):
    late_evening_utc = datetime(2020, 1, 1, 23, 30, tzinfo=UTC)
    assert data_line(example_result(make, taken_at=late_evening_utc)).endswith('"02/01/2020"')


def test_naive_datetime_is_refused(make):
    with pytest.raises(ValueError):
        data_line(example_result(make, taken_at=datetime(2020, 1, 1, 10)))


@pytest.mark.parametrize("division", ["3A", "2nde B", "TMELEC", "1ère STMG", "3e-2"])
def test_ordinary_divisions_keep_their_name(division):
    assert class_results_file_name(division, date(2024, 6, 3)) == f"20240603_resultats_{division}.csv"


@pytest.mark.parametrize(
    ("division", "safe"),
    [
        ("3/A", "3%2FA"),
        ("a\\b", "a%5Cb"),
        ("50%", "50%25"),
        (" 3A.", "%203A%2E"),
        ("..", "%2E%2E"),
        ("x\ny", "x%0Ay"),
    ],
)
def test_unsafe_division_characters_are_percent_encoded(division, safe):
    assert safe_file_component(division) == safe


def test_empty_division_is_refused():
    with pytest.raises(ValueError):
        safe_file_component("")


def test_rows_are_each_active_learners_latest_published_certification(make):
    zoe = make.learner("zoe", division="3A")
    adam = make.learner("adam", division="3a")  # same class, other case
    gone = make.learner("gone", active=False)
    other_class = make.learner("other", division="3B")
    other_school = make.learner("far", uai="0999999Z")
    learners = [zoe, adam, gone, other_class, other_school]
    candidates = [make.candidate(learner) for learner in learners]
    zoe_retake = make.candidate(zoe, "S-2")
    day = datetime(2024, 3, 12, 9, tzinfo=UTC)
    results = [
        make.result(candidates[0], 1, last_name="Zola", taken_at=day),
        make.result(zoe_retake, 2, last_name="Zola", taken_at=day + timedelta(days=5)),
        make.result(zoe_retake, 3, last_name="Zola", taken_at=day + timedelta(days=9), published=False),
        make.result(candidates[1], 4, last_name="Ébert", taken_at=day),
        make.result(candidates[2], 5, taken_at=day),
        make.result(candidates[3], 6, taken_at=day),
        make.result(candidates[4], 7, taken_at=day),
    ]
    index = ExportIndex(learners, [*candidates, zoe_retake], results)
    rows = select_class_results(index, "0751234a", "3A")
    assert [r.certification_id for r in rows] == [4, 2]


@pytest.mark.parametrize(
    ("on_result", "in_roster", "shown"),
    [
        (None, "Quimper", "Quimper"),  # the livret JSON has no birthplace: the roster's city
        ("  ", "Quimper", "Quimper"),  # a blank birthplace is none
        ("Torreilles", "Quimper", "Torreilles"),  # Pix's birthplace wins
        ("Torreilles", None, "Torreilles"),
        (None, None, None),
        (None, "", None),
    ],
)
def test_birthplace_falls_back_to_the_roster_birth_city(make, on_result, in_roster, shown):
    learner = make.learner("a", birth_city=in_roster)
    result = make.result(make.candidate(learner), 1, birthplace=on_result)
    assert with_roster_birthplace(result, learner).birthplace == shown


def test_class_csv_shows_the_roster_birth_city_when_the_result_has_none(make):
    with_city = make.learner("a", birth_city="Quimper", last_name="Abel")
    pix_city = make.learner("b", birth_city="Quimper", last_name="Bravo")
    no_city = make.learner("c", last_name="Cyan")
    candidates = [make.candidate(learner) for learner in (with_city, pix_city, no_city)]
    results = [
        make.result(candidates[0], 1, last_name="Abel"),
        make.result(candidates[1], 2, last_name="Bravo", birthplace="Torreilles"),
        make.result(candidates[2], 3, last_name="Cyan"),
    ]
    index = ExportIndex([with_city, pix_city, no_city], candidates, results)
    lines = produce_class_results(index, UAI_LOWER, "3A", date(2024, 6, 3)).content.decode().split("\n")
    assert lines[1].startswith('1;"Anne";"Abel";"01/05/2010";"Quimper";;"Validée";')
    assert lines[2].startswith('2;"Anne";"Bravo";"01/05/2010";"Torreilles";;"Validée";')
    assert lines[3].startswith('3;"Anne";"Cyan";"01/05/2010";;;"Validée";')


def test_produce_class_results_summarises_the_bytes(make):
    learner = make.learner("a")
    candidate = make.candidate(learner)
    index = ExportIndex([learner], [candidate], [make.result(candidate, 1)])
    export = produce_class_results(index, UAI_LOWER, "3A", date(2024, 6, 3))
    assert export.file_name == "20240603_resultats_3A.csv"
    assert export.summary.rows == 1
    assert export.summary.sha256 == hashlib.sha256(export.content).hexdigest()
    assert export.summary.event_fields() == {
        "uai": "0751234A",
        "division": "3A",
        "file_name": "20240603_resultats_3A.csv",
        "sha256": export.summary.sha256,
        "rows": 1,
    }
