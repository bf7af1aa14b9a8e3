"""Page 2, Certifiability, against the real eligibility app and Keycloak: counts per class, who is
not certifiable and what they lack, the remediation list, and the uploads whose refused files show
their line-numbered errors next to the form (nothing imported)."""

from __future__ import annotations

import html
import re

import pytest

from tests.console_support import IN_PROCESS_URL, bearer, console_app, in_process, sign_in, staff
from tests.keycloak import SCHOOL_A, SCHOOL_B
from tests.learner_rows import HEADER, learner_row

pytestmark = pytest.mark.integration

PUBLIC_URL = IN_PROCESS_URL
PAGE = f"/etablissements/{SCHOOL_A}/certificabilite"


@pytest.fixture
async def seeded(start_service, tmp_path):
    from tests.console_support import seed

    return await seed(start_service, tmp_path)


@pytest.fixture
async def console(seeded):
    async with in_process(console_app(seeded, PUBLIC_URL)) as http:
        await sign_in(http, staff(SCHOOL_A))
        yield http


def rows_of(page_html: str, table_id: str) -> list[list[str]]:
    """The cells' text of each body row of the table inside the element ``table_id``."""
    start = page_html.index(f'id="{table_id}"')
    table = page_html[start : page_html.index("</table>", start)]
    body = table[table.index("<tbody>") :]
    return [
        [_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


async def test_the_page_shows_each_class_who_is_not_certifiable_and_what_they_lack(console, seeded):
    page = await console.get(PAGE)
    assert page.status_code == 200, page.text
    certifiable, short, never_shared = seeded.learners
    division = certifiable.division
    text = html.unescape(page.text)
    assert "1 élève(s) certifiable(s) sur 3 (33 %), 1 non certifiable(s)" in " ".join(text.split())
    assert rows_of(page.text, "classes-table") == [[division, "3", "1", "1", "1", "33 %"]]
    assert f"Classe {division} : élèves non certifiables (2)" in text
    lacking = rows_of(page.text, "classe-1-table")
    assert [row[:4] for row in lacking] == [
        [short.last_name, short.first_name, "Non certifiable", "2"],
        [never_shared.last_name, never_shared.first_name, "Profil non partagé", "—"],
    ]
    assert lacking[0][4].startswith("3 compétence(s) de plus à positionner")
    assert "Compétences au niveau 0 (14)" in lacking[0][4] and "3.4 Programmer" in lacking[0][4]
    assert lacking[1][4] == "partager son profil dans la campagne de collecte"


async def test_the_remediation_list_shows_the_students_the_one_month_check_asked(console, seeded):
    page = await console.get(PAGE)
    _certifiable, short, never_shared = seeded.learners
    # items whose learner the roster no longer holds (here: earlier runs' items the service read
    # back from the topics) are counted apart, not listed as nameless rows
    rows = rows_of(page.text, "remediations-table")
    assert all(r[0] and r[0] != "—" for r in rows)
    assert sorted(r[0] for r in rows) == sorted([short.last_name, never_shared.last_name])
    assert {r[5] for r in rows} == {"3 compétence(s) à positionner", "profil à partager"}
    for row in rows:
        assert row[3:5] == ["10/03/2026", "08/02/2026"] and row[6] == "À faire"


async def test_a_refused_roster_shows_each_error_with_its_line_next_to_the_form(console, seeded):
    before = (
        await seeded.eligibility.http.get(f"/schools/{SCHOOL_A}/certifiability", headers=bearer(SCHOOL_A))
    ).json()
    broken = "\n".join([HEADER, learner_row(), learner_row(ine="12345", first_name="Hugo", sex="M")]) + "\n"
    refused = await console.post(f"{PAGE}/liste-eleves", files={"file": ("eleves-3e.csv", broken.encode())})
    assert refused.status_code == 422, refused.text
    text = html.unescape(refused.text)
    assert "Erreurs du fichier « eleves-3e.csv » (1) — rien n'a été importé" in text
    assert 'href="#liste-eleves-errors">Voir les 1 erreur(s) à côté du fichier</a>' in text
    [error] = rows_of(refused.text, "liste-eleves-errors")
    assert error[:3] == ["eleves-3e.csv", "3", "Identifiant unique*"] and error[3].startswith("ine.")
    assert "INE" in error[4]
    # the errors sit inside the roster's form section, not the campaign's
    section = refused.text[
        refused.text.index('id="upload-liste-eleves"') : refused.text.index('id="upload-export-campagne"')
    ]
    assert 'id="liste-eleves-errors"' in section and "fr-upload-group--error" in section
    after = (
        await seeded.eligibility.http.get(f"/schools/{SCHOOL_A}/certifiability", headers=bearer(SCHOOL_A))
    ).json()
    assert after == before  # nothing of the refused file was imported


async def test_an_accepted_roster_says_what_changed_after_the_redirect(console):
    good = "\n".join([HEADER, learner_row(division="3Z")]) + "\n"
    sent = await console.post(f"{PAGE}/liste-eleves", files={"file": ("eleves.csv", good.encode())})
    assert sent.status_code == 303 and sent.headers["location"].endswith(PAGE)
    page = await console.get(PAGE)
    text = html.unescape(page.text)
    assert "Fichier « eleves.csv » importé" in text and "1 élève(s) lu(s) : 1 ajouté(s)" in text
    assert "3Z" in text
    assert "Fichier « eleves.csv » importé" not in (await console.get(PAGE)).text  # shown once


async def test_a_refused_campaign_export_is_shown_next_to_its_own_form(console):
    refused = await console.post(
        f"{PAGE}/export-campagne", files={"file": ("export.csv", b"not;a;campaign\n1;2;3\n")}
    )
    assert refused.status_code == 422, refused.text
    section = refused.text[refused.text.index('id="upload-export-campagne"') :]
    assert 'id="export-campagne-errors"' in section
    assert 'id="liste-eleves-errors"' not in refused.text
    assert all(row[0] == "export.csv" and row[4] for row in rows_of(refused.text, "export-campagne-errors"))


async def test_another_schools_certifiability_is_not_found(console):
    page = await console.get(f"/etablissements/{SCHOOL_B}/certificabilite")
    assert page.status_code == 404 and "pas l'un de vos établissements" in html.unescape(page.text)
    upload = await console.post(
        f"/etablissements/{SCHOOL_B}/certificabilite/liste-eleves",
        files={"file": ("eleves.csv", ("\n".join([HEADER, learner_row()]) + "\n").encode())},
    )
    assert upload.status_code == 404


async def test_sending_the_form_without_a_file_asks_for_one(console):
    empty = await console.post(f"{PAGE}/liste-eleves", files={"file": ("", b"")})
    assert empty.status_code == 422
    assert "Choisissez un fichier à envoyer." in html.unescape(empty.text)
    none = await console.post(f"{PAGE}/liste-eleves", data={"external_id_column": ""})
    assert none.status_code == 422 and "Choisissez un fichier" in html.unescape(none.text)


async def test_a_file_past_the_consoles_limit_is_refused_not_sent_cut_short(console, monkeypatch):
    from services.console import pages_certifiability

    good = ("\n".join([HEADER, learner_row(division="3Z")]) + "\n").encode()  # eligibility takes it
    monkeypatch.setattr(pages_certifiability, "MAX_FORWARDED_BYTES", len(good) - 1)
    refused = await console.post(f"{PAGE}/liste-eleves", files={"file": ("eleves.csv", good)})
    assert refused.status_code == 422
    assert "c'est la limite de la console" in html.unescape(refused.text)
    assert "3Z" not in (await console.get(PAGE)).text  # nothing reached eligibility


async def test_a_school_without_a_roster_is_asked_for_one(seeded):
    async with in_process(console_app(seeded, PUBLIC_URL)) as http:
        await sign_in(http, staff(SCHOOL_B))
        page = await http.get(f"/etablissements/{SCHOOL_B}/certificabilite")
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert "Aucune liste d'élèves importée" in text and 'id="classes-table"' not in text
