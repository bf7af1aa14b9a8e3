import io
import re
import zipfile
from datetime import date

import pytest
from pypdf import PdfReader

from services.scheduler.domain.documents import (
    ISSUE_CATEGORIES,
    School,
    build_day_bundle,
    build_session_bundle,
    render_attendance_sheet,
    render_convocations,
    render_fraud_report,
    render_incident_report,
    render_invigilator_kit,
)
from services.scheduler.domain.enrolment import Candidate
from services.scheduler.domain.sessions import Session

SCHOOL = School("Collège Françoise-Dolto", "0590001A", "Lille")
SESSION = Session(
    number=1234,
    site="Bâtiment B – rez-de-chaussée",
    room="Salle d’info B12",
    invigilators=("Mme Bérénice Lefèvre", "M. Œillet-Cœur"),
    day=date(2024, 3, 14),
    time="08:00",
    access_code="BCDF23",
    invigilator_password="kjHv!7",
)


def candidates(count: int) -> list[Candidate]:
    return [
        Candidate(
            f"l{i:02d}",
            1234,
            f"Nom{i:02d}",
            "Zoé" if i % 2 else "François",
            date(2009, 1 + i % 12, 1 + i % 28),
            "3e B",
            33 if i == 5 else 0,
        )
        for i in range(count)
    ]


def pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_accents_and_typographic_characters_survive_extraction():
    text = "\n".join(pages(render_invigilator_kit(SCHOOL, SESSION)))
    for expected in ("é", "è", "ç", "œ", "’", "Œillet", "Françoise", "Salle d’info B12"):
        assert expected in text


def test_attendance_sheet_has_20_candidates_a_page_and_pix_columns():
    texts = pages(render_attendance_sheet(SCHOOL, SESSION, candidates(45)))
    assert len(texts) == 3
    for text in texts:
        for header in (
            "La session de certification N° 1234",
            "Date : \n14/03/2024",
            "Heure locale (début)",
            "Nom du site",
            "Nom de la salle",
            "Surveillé par",
            "Mme Bérénice Lefèvre, M. Œillet-Cœur",
        ):
            assert header in text
        columns = [
            text.index(c)
            for c in ("Nom de naissance", "Prénom", "Date de naissance (jj/mm/aaaa)", "Classe", "Signature\n")
        ]
        assert columns == sorted(columns)
    counts = [len(re.findall(r"NOM\d\d", text)) for text in texts]
    assert counts == [20, 20, 5]
    assert "NOM00\nFrançois\n01/01/2009\n3e B" in texts[0]
    assert "NOM44" in texts[2]


def test_invigilator_kit_content():
    text = pages(render_invigilator_kit(SCHOOL, SESSION, candidates(6)))[0]
    assert "N° de session : \n1234" in text
    assert "C-kjHv!7" in text
    assert "BCDF23" in text
    assert "Heure de début : \n08:00" in text
    assert "Heure de fin théorique : \n09:45" in text
    assert "temps majoré" in text
    assert "NOM05 Zoé : 33 %, fin théorique 10:20" in text


def test_convocation_per_student():
    texts = pages(render_convocations(SCHOOL, SESSION, candidates(3)))
    assert len(texts) == 3
    first = texts[0]
    for expected in (
        "Collège Françoise-Dolto",
        "jeudi 14 mars 2024",
        "08:00",
        "Bâtiment B",
        "Salle d’info B12",
        "1234",
        "François NOM00",
        "pièce d’identité",
        "propre compte Pix",
    ):
        assert expected in first


def test_incident_report_lists_the_categories():
    text = "\n".join(pages(render_incident_report(SCHOOL, SESSION)))
    assert "PV d’incident" in text
    for code, label in ISSUE_CATEGORIES:
        assert f"{code} : {label}" in text
    assert {code for code, _ in ISSUE_CATEGORIES} >= {"C1", "C2", "C4", "C6", "C7", "C8", "E1", "E12"}
    blank = "\n".join(pages(render_incident_report(SCHOOL)))
    assert "1234" not in blank


def test_fraud_report():
    text = "\n".join(pages(render_fraud_report(SCHOOL, SESSION)))
    assert "PV de suspicion de fraude" in text and "C6" in text and "Témoin(s)" in text


def test_names_outside_latin1_are_transliterated_not_lost():
    student = Candidate("x", 1234, "Łukasiewicz", "Ștefan", date(2009, 2, 3), "3e B")
    text = pages(render_attendance_sheet(SCHOOL, SESSION, [student]))[0]
    assert "LUKASIEWICZ" in text and "Stefan" in text


def test_session_bundle_is_deterministic_with_pix_file_names():
    bundle = build_session_bundle(SCHOOL, SESSION, candidates(21))
    assert bundle == build_session_bundle(SCHOOL, SESSION, candidates(21))
    names = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    assert names == [
        "convocations-session-1234.pdf",
        "feuille-emargement-session-1234.pdf",
        "kit-surveillant-session-1234.pdf",
        "pv-fraude-session-1234.pdf",
        "pv-incident-session-1234.pdf",
    ]


def test_day_bundle_has_one_folder_per_session_of_that_day():
    other = Session(
        number=1235,
        site="A",
        room="CDI",
        invigilators=("X",),
        day=date(2024, 3, 14),
        time="10:00",
        access_code="FMKP39",
        invigilator_password="23bcdf",
    )
    elsewhere = Session(
        number=1300,
        site="A",
        room="CDI",
        invigilators=("X",),
        day=date(2024, 3, 15),
        time="10:00",
        access_code="FMKP38",
        invigilator_password="23bcdf",
    )
    bundle = build_day_bundle(
        SCHOOL, date(2024, 3, 14), [(other, candidates(2)), (SESSION, candidates(3)), (elsewhere, [])]
    )
    names = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    assert len(names) == 10
    assert {name.split("/")[0] for name in names} == {"session-1234", "session-1235"}


@pytest.mark.parametrize("count", [0, 1, 20, 21])
def test_attendance_page_count(count):
    assert len(pages(render_attendance_sheet(SCHOOL, SESSION, candidates(count)))) == max(1, -(-count // 20))
