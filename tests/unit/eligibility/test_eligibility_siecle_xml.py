"""The SIECLE BEE_ELEVES XML reader."""

from datetime import date

import pytest

from deploy.local.generator import generate_learners, siecle_xml_bytes
from services.eligibility.domain.issues import Rule
from services.eligibility.domain.roster import Sex
from services.eligibility.domain.siecle_xml import parse_siecle_xml
from tests.generated import roster_learners

UAI = "0211089V"
TODAY = date(2025, 12, 1)


def parse(data: bytes, uai: str = UAI):
    return parse_siecle_xml(data, file_name="ElevesSansAdresses.xml", uai=uai, reference_date=TODAY)


def test_generated_export_round_trips_in_iso_8859_15():
    learners = generate_learners(2, 120)
    result = parse(siecle_xml_bytes(learners, UAI))
    assert result.accepted and result.source == "siecle_xml"
    assert list(result.learners) == roster_learners(
        learners
    )  # 1/2 sex codes read back as M/F, groups ignored


def test_utf8_export_and_lower_case_uaj():
    learners = generate_learners(3, 10)
    assert parse(siecle_xml_bytes(learners, UAI.lower(), encoding="UTF-8")).accepted


def test_students_who_left_or_have_no_division_are_skipped_and_reported():
    learners = generate_learners(4, 5)
    data = siecle_xml_bytes(learners, UAI, left_school=frozenset({learners[1].ine}))
    # remove the division structure of the last student, keep its group
    last_id = 1000 + len(learners) - 1
    data = data.replace(
        f'<STRUCTURES_ELEVE ELEVE_ID="{last_id}" ELENOET="{last_id}"><STRUCTURE>'.encode()
        + f"<CODE_STRUCTURE>{learners[-1].division}</CODE_STRUCTURE><TYPE_STRUCTURE>D".encode(),
        f'<STRUCTURES_ELEVE ELEVE_ID="{last_id}" ELENOET="{last_id}"><STRUCTURE>'.encode()
        + b"<CODE_STRUCTURE>GRP</CODE_STRUCTURE><TYPE_STRUCTURE>G",
    )
    result = parse(data)
    assert result.accepted
    assert [x.ine for x in result.learners] == [x.ine for x in learners[0:1] + learners[2:4]]
    assert [s.reason.split()[0] for s in result.skipped] == ["sorti(e)", "sans"]
    assert all(s.line > 1 for s in result.skipped)


def test_errors_carry_the_eleve_line_and_tag():
    learners = generate_learners(5, 3)
    data = siecle_xml_bytes(learners, UAI).replace(
        f"<CODE_SEXE>{1 if learners[2].sex == Sex.MALE else 2}</CODE_SEXE>".encode(),
        b"<CODE_SEXE>9</CODE_SEXE>",
        1,
    )
    data = data.replace(b"<ID_NATIONAL>" + learners[0].ine.encode(), b"<ID_NATIONAL>12AB", 1)
    result = parse(data)
    assert not result.accepted and result.learners == ()
    found = {(i.column, i.rule) for i in result.issues}
    assert ("ID_NATIONAL", Rule.INE_INVALID_FORMAT) in found
    assert all(i.line and i.line > 3 for i in result.issues)


def test_missing_element_is_a_required_value():
    learners = generate_learners(6, 1)
    data = siecle_xml_bytes(learners, UAI).replace(
        f"<CODE_MEF>{learners[0].mef_code}</CODE_MEF>".encode(), b""
    )
    issue = parse(data).issues[0]
    assert (issue.column, issue.rule) == ("CODE_MEF", Rule.CELL_REQUIRED)


def test_doctype_and_entity_expansion_are_refused():
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<BEE_ELEVES><PARAMETRES><UAJ>&lol2;</UAJ></PARAMETRES></BEE_ELEVES>"""
    (issue,) = parse(bomb).issues
    assert issue.rule is Rule.XML_DOCTYPE_FORBIDDEN and issue.line == 2


def test_external_entity_is_refused():
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><BEE_ELEVES>&e;</BEE_ELEVES>'
    assert [i.rule for i in parse(xxe).issues] == [Rule.XML_DOCTYPE_FORBIDDEN]


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"<BEE_ELEVES><PARAMETRES><UAJ>0211089V</UAJ></PARAMETRES>", Rule.XML_MALFORMED),
        (b"not xml at all", Rule.XML_MALFORMED),
        (
            '<?xml version="1.0" encoding="UTF-8"?><BEE_ELEVES>é</BEE_ELEVES>'.encode("cp1252"),
            Rule.XML_MALFORMED,
        ),
        (b"<ELEVES></ELEVES>", Rule.XML_NOT_SIECLE),
        (b"<BEE_ELEVES><DONNEES/></BEE_ELEVES>", Rule.XML_UAI_MISSING),
        (
            b"<BEE_ELEVES><PARAMETRES><UAJ>0211089V</UAJ></PARAMETRES><DONNEES/></BEE_ELEVES>",
            Rule.FILE_NO_ROWS,
        ),
        (b"", Rule.FILE_EMPTY),
    ],
)
def test_file_level_errors(data, rule):
    result = parse(data)
    assert [i.rule for i in result.issues] == [rule]


def test_export_of_another_school_is_refused():
    data = siecle_xml_bytes(generate_learners(7, 2), "0211089V")
    other = "0210001" + "ABCDEFGHJKLMNPRSTUVWXYZ"[210001 % 23]
    assert [i.rule for i in parse(data, uai=other).issues] == [Rule.XML_UAI_MISMATCH]


def test_size_limit():
    data = siecle_xml_bytes(generate_learners(8, 2), UAI)
    result = parse_siecle_xml(data, file_name="x.xml", uai=UAI, reference_date=TODAY, max_bytes=10)
    assert [i.rule for i in result.issues] == [Rule.FILE_TOO_LARGE]


def test_duplicates_are_detected_as_in_the_csv():
    learners = generate_learners(9, 2)
    result = parse(siecle_xml_bytes([learners[0], learners[1], learners[0]], UAI))
    assert [i.rule for i in result.issues] == [Rule.INE_DUPLICATE]
