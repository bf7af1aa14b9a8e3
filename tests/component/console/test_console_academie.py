"""Page 7, the académie operator's view, against the real académie service and the local provider:
every school's progress (a table sorted by any column, a chart), overdue finalisations,
certifiability by school, the services' dead letters and consumer lag from their /metrics; an
établissement's staff is refused."""

from __future__ import annotations

import html
import re

import pytest

from deploy.local.localinfra.realm import OPERATOR_USER
from tests.console_support import IN_PROCESS_URL, in_process, sign_in, staff
from tests.console_support_academie import console_app_with_academie, seed_academie
from tests.keycloak import SCHOOL_A

pytestmark = pytest.mark.integration

PUBLIC_URL = IN_PROCESS_URL


@pytest.fixture
async def academie(start_service):
    return await seed_academie(start_service)


@pytest.fixture
async def console(academie):
    async with in_process(console_app_with_academie(academie, PUBLIC_URL)) as http:
        yield http


def words(fragment: str) -> str:
    """The text of an HTML fragment, its tags dropped and its spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def rows(page: str, table: str) -> list[str]:
    body = page.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0]
    return [
        html.unescape(re.sub(r"<[^>]+>", " ", r)) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ][1:]


async def test_the_operator_sees_every_schools_progress_sorted_and_charted(console, academie):
    await sign_in(console, OPERATOR_USER)
    home = await console.get("/")
    assert 'id="academie-link"' in home.text
    page = await console.get("/academie")
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    schools = rows(page.text, "schools-table")
    # furthest behind first: the lycée only planned, the collège held its session
    assert [academie.lycee in schools[0], academie.college in schools[1]] == [True, True]
    college = " ".join(schools[1].split())
    assert "Collège Colette" in college and "75 % (3/4)" in college
    figures = words(page.text.split('id="figures">', 1)[1].split("</ul>", 1)[0])
    assert "2 établissement(s), dont 0 ayant tout terminé" in figures
    assert "1 session(s) en retard de finalisation dans 1 établissement(s)" in figures
    assert "Certifiabilité dans l'académie : 75 % (3 élève(s) sur 4)" in figures
    # the chart: one bar per step, its figures also said in words
    assert '<svg id="progress-chart" role="img"' in page.text
    assert page.text.count('class="console-chart__bar"') == 6
    assert "planifié : 2 sur 2 ; convoqué : 1 sur 2" in text

    by_name = await console.get("/academie", params={"tri": "nom", "ordre": "asc"})
    names = [r for r in rows(by_name.text, "schools-table")]
    assert "Collège Colette" in names[0] and "Lycée Niépce" in names[1]
    assert 'aria-sort="ascending"' in by_name.text and "?tri=nom&amp;ordre=desc" in by_name.text
    by_rate = await console.get("/academie", params={"tri": "certifiabilite", "ordre": "desc"})
    assert "Lycée Niépce" in rows(by_rate.text, "schools-table")[1]  # no learner: after every rate

    overdue = rows(page.text, "overdue-table")
    assert (
        len(overdue) == 1
        and "Collège Colette" in overdue[0]
        and str(academie.overdue_session_number) in overdue[0]
    )
    assert "10/03/2026" in overdue[0] and "12/03/2026" in overdue[0]


async def test_dead_letters_and_lag_come_from_the_services_metrics(console, academie):
    metrics = academie.svc.app.state.metrics
    # what a consumer of the académie service records when it parks a record and reads its lag
    metrics.count_events("progress", "certibus.finalisation.session_finalised.v1", "dead_lettered", 2)
    metrics.set_lag("progress", "certibus.finalisation", 0, 5)
    metrics.set_lag("progress", "certibus.finalisation", 1, 3)
    await sign_in(console, OPERATOR_USER)
    page = await console.get("/academie")
    operations = {r.split()[0]: " ".join(r.split()) for r in rows(page.text, "operations-table")}
    assert operations["academie"].startswith("academie Joignable 2 8 message(s) progress : 8")
    for service in ("scheduler", "eligibility", "finalisation", "export"):
        assert "Injoignable" in operations[service], operations[service]


async def test_a_schools_staff_is_refused(console):
    await sign_in(console, staff(SCHOOL_A))
    refused = await console.get("/academie")
    assert refused.status_code == 404
    assert "La vue académique est réservée aux opérateurs de l'académie." in html.unescape(refused.text)
    assert 'id="schools-table"' not in refused.text
