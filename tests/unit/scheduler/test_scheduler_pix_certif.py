"""The Pix Certif sessions file, pure: what the export writes byte for byte, what the import reads
(headers by name, encodings, separators, Pix's shapes) and how lines find their sessions."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.pix_certif import (
    COLUMNS,
    SessionToCreate,
    pix_link,
    read_sessions_file,
    record_pix_link,
    render_sessions_file,
    resolve_rows,
)
from services.scheduler.domain.sessions import PixCertifLink, Session
from shared.file_issues import FileIssues

SESSION = Session(
    12, "Bâtiment A", "Salle 101", ("Mme Dupré", "M. Martin"), date(2026, 3, 16), "08:30", "QYCV88", "Pcf!QV"
)
OTHER = replace(SESSION, number=13, room="CDI", invigilators=("Mme Cœur",))
HEADER = "Numéro de session certibus;Numéro de session Pix;Code d'accès;Mot de passe de session\n"


def read(text: str | bytes) -> tuple[list, FileIssues]:
    issues = FileIssues("f.csv")
    data = text.encode() if isinstance(text, str) else text
    return list(read_sessions_file(data, "f.csv", issues).rows), issues


def test_the_export_is_pix_s_template_shape_byte_for_byte():
    linked = replace(OTHER, pix=PixCertifLink(61234, "FMKP39", "b7K?2x"))
    data = render_sessions_file(
        [
            SessionToCreate(SESSION, ("3A",), 24),
            SessionToCreate(linked, ("3B", "3C"), 30),
            SessionToCreate(SESSION, ("3D",), 5, created=False),
        ]
    )
    assert data.decode() == (
        "\ufeff" + ";".join(COLUMNS) + "\n"
        "12;Bâtiment A;Salle 101;16/03/2026;08:30;Mme Dupré, M. Martin;3A;24;;;\n"
        "13;Bâtiment A;CDI;16/03/2026;08:30;Mme Cœur;3B, 3C;30;61234;FMKP39;b7K?2x\n"
        ";Bâtiment A;Salle 101;16/03/2026;08:30;Mme Dupré, M. Martin;3D;5;;;\n"
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_headers_by_name_whatever_the_encoding_asterisks_case_or_separator(encoding):
    text = (
        "mot de passe de session,NUMÉRO DE SESSION PIX,code d'accès,Nom du site,* Nom de la salle,"
        "Date de début (format: JJ/MM/AAAA),Heure de début (heure locale format: HH:MM),Observations\n"
        "C-b7K?2x,61234,fmkp39,Bâtiment A,Salle 101,16/03/2026,08:30,rien\n"
    )
    [row], issues = read(text.encode(encoding))
    assert not issues
    assert row.link == PixCertifLink(61234, "FMKP39", "b7K?2x")
    assert (row.number, row.site, row.room, row.day, row.time) == (
        None,
        "Bâtiment A",
        "Salle 101",
        date(2026, 3, 16),
        "08:30",
    )


def test_pix_shapes_five_or_six_characters_and_the_c_prefix():
    rows, issues = read(HEADER + "12;61234;BCDF23;2B3C4\n13;61235;BCDF23;C-Xq9*mt\n")
    assert not issues and [r.link.invigilator_password for r in rows] == ["2B3C4", "Xq9*mt"]
    _, issues = read(HEADER + "12;0;BCDF2;aeiou\n")
    assert [(i.line, i.column, i.rule) for i in issues.issues] == [
        (2, "Numéro de session Pix", "pix.invalid_session_number"),
        (2, "Code d'accès", "pix.invalid_access_code"),
        (2, "Mot de passe de session", "pix.invalid_password"),
    ]


PLACE = "Nom du site;Nom de la salle;Date de début (format: JJ/MM/AAAA);Heure de début (heure locale format: HH:MM);"


def test_bad_dates_and_times_are_named_by_column():
    _, issues = read(PLACE + HEADER.split(";", 1)[1] + "A;101;31/02/2026;8h30;61234;BCDF23;b7K?2x\n")
    assert [(i.line, i.column, i.rule) for i in issues.issues] == [
        (2, "* Date de début (format: JJ/MM/AAAA)", "date.invalid_format"),
        (2, "* Heure de début (heure locale format: HH:MM)", "time.invalid_format"),
    ]


def test_without_the_certibus_number_the_place_columns_are_required():
    _, issues = read("Date de début;" + HEADER.split(";", 1)[1] + "16/03/2026;61234;BCDF23;b7K?2x\n")
    [issue] = issues.issues
    assert (issue.line, issue.rule) == (1, "file.missing_columns")
    assert "* Nom du site" in issue.message and "* Date de début (format: JJ/MM/AAAA)" in issue.message


def test_resolution_names_each_problem_and_keeps_the_good_lines():
    started = replace(OTHER, number=14, first_test_started_at=datetime(2026, 3, 16, 8, 30))
    sessions = {"s12": SESSION, "s13": OTHER, "s14": started}
    rows, issues = read(
        HEADER
        + "12;61234;BCDF23;b7K?2x\n"
        + "13;61234;BCDF23;b7K?2x\n"  # Pix number already on line 2
        + "12;61236;BCDF23;b7K?2x\n"  # session 12 again
        + "14;61237;BCDF23;b7K?2x\n"  # started
        + "99;61238;BCDF23;b7K?2x\n"  # unknown
    )
    assert not issues
    links = resolve_rows(rows, sessions, {}, issues)
    assert links == {"s12": PixCertifLink(61234, "BCDF23", "b7K?2x")}
    assert [(i.line, i.rule) for i in issues.issues] == [
        (3, "pix.duplicate_session_number"),
        (4, "pix.duplicate_session"),
        (5, "session.started"),
        (6, "pix.session_unknown"),
    ]
    issues = FileIssues("f.csv")
    assert resolve_rows(rows[:1], sessions, {61234: 40}, issues) == {}
    assert [i.rule for i in issues.issues] == ["pix.session_number_taken"]
    issues = FileIssues("f.csv")
    assert resolve_rows(rows[:1], sessions, {61234: 12}, issues) == {"s12": rows[0].link}  # its own


def test_a_place_two_sessions_share_is_ambiguous():
    twin = replace(SESSION, number=20)
    text = "Nom du site;Nom de la salle;Date de début (format: JJ/MM/AAAA);Heure de début (heure locale format: HH:MM);"
    rows, issues = read(
        text + HEADER.split(";", 1)[1] + "bâtiment a;SALLE 101;16/03/2026;08:30;61234;BCDF23;b7K?2x\n"
    )
    assert not issues
    assert resolve_rows(rows, {"a": SESSION}, {}, issues) == {"a": rows[0].link}
    issues = FileIssues("f.csv")
    assert resolve_rows(rows, {"a": SESSION, "b": twin}, {}, issues) == {}
    assert [(i.line, i.column, i.rule) for i in issues.issues] == [
        (2, "* Nom de la salle", "pix.session_ambiguous")
    ]


def test_one_session_s_values_and_what_the_documents_then_print():
    link = pix_link(61234, " fmkp39 ", "C-b7K?2x")
    assert link == PixCertifLink(61234, "FMKP39", "b7K?2x")
    linked = record_pix_link(SESSION, link)
    printed = linked.printed
    assert (printed.number, printed.access_code, printed.displayed_password) == (61234, "FMKP39", "C-b7K?2x")
    assert (linked.number, linked.password_in_use, SESSION.printed) == (12, "b7K?2x", SESSION)
    with pytest.raises(DomainError) as refused:
        record_pix_link(replace(SESSION, first_test_started_at=datetime(2026, 3, 16, 8, 30)), link)
    assert refused.value.code == "session.started"
    with pytest.raises(DomainError) as refused:
        pix_link(61234, "FMKP39", "C-ab")
    assert refused.value.code == "pix.invalid_password"
