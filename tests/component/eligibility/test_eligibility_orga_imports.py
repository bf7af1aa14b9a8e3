"""The Pix Orga certificability import through the HTTP API on real Postgres: matched by INE, the
more recent of it and a campaign's share wins, refused whole with every error, events say whence."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from eligibility_component_support import UAI, outbox_events, rejected_errors, stored_counts, upload

from deploy.local.generator import (
    OrgaCertificability,
    Participation,
    campaign_csv_bytes,
    generate_learners,
    learner_csv_bytes,
    orga_certificability_csv_bytes,
)
from shared.contracts.events import CertifiabilityAssessed

pytestmark = pytest.mark.integration

SIX = (8, 16, 9, 40, 8, 8, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0)


@pytest.fixture
def learners():
    return [replace(x, division="3A") for x in generate_learners(41, 4)]


async def school_with(svc, learners) -> dict[str, str]:
    response = await upload(svc, f"/schools/{UAI}/rosters", "eleves.csv", learner_csv_bytes(learners))
    assert response.status_code == 200, response.text
    rows = await svc.pool.fetch("SELECT ine, learner_id::text AS id FROM learners")
    return {r["ine"]: r["id"] for r in rows}


async def import_orga(svc, rows: list[OrgaCertificability], file_name: str = "orga.csv"):
    return await upload(
        svc, f"/schools/{UAI}/orga-certificability", file_name, orga_certificability_csv_bytes(rows)
    )


async def import_campaign(svc, learner, when: date):
    share = Participation(learner.last_name, learner.first_name, "3A", learner.ine, True, when, SIX)
    response = await upload(
        svc, f"/schools/{UAI}/campaign-exports", "collecte.csv", campaign_csv_bytes([share])
    )
    assert response.status_code == 200, response.text
    return response.json()


async def stored(svc, learner_id: str):
    return await svc.pool.fetchrow(
        "SELECT status, origin, certifiable_at, shared_at, certifiable_count, source FROM assessments"
        " WHERE learner_id = $1::uuid",
        learner_id,
    )


async def test_orga_statuses_are_matched_by_ine_stored_and_announced_with_their_origin(eligibility, learners):
    ids = await school_with(eligibility, learners)
    a, b, c, d = learners
    response = await import_orga(
        eligibility,
        [
            OrgaCertificability(a.ine, True, date(2025, 11, 14)),
            OrgaCertificability(b.ine, False, date(2025, 11, 14)),
            OrgaCertificability(c.ine, None),
            OrgaCertificability("123456789ZZ", True, date(2025, 11, 14)),
        ],
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["matched"], report["not_available"]) == (4, 2, 1)
    assert report["unmatched"] == [{"line": 5, "ine": "123456789ZZ"}]
    assert report["assessed"] == {"certifiable": 1, "not_certifiable": 1} and report["kept_more_recent"] == 0

    dashboard = (await eligibility.http.get(f"/schools/{UAI}/classes/3A/certifiability")).json()
    assert (dashboard["counts"]["certifiable"], dashboard["counts"]["not_certifiable"]) == (1, 1)
    assert dashboard["counts"]["unknown"] == 2  # "Non communiqué" and absent: still unknown
    students = {s["learner_id"]: s for s in dashboard["students"]}
    assert (students[ids[a.ine]]["origin"], students[ids[a.ine]]["certifiable_at"]) == (
        "orga_certificability",
        "2025-11-14",
    )
    assert students[ids[c.ine]]["origin"] is None
    row = await stored(eligibility, ids[a.ine])
    assert (row["origin"], row["certifiable_at"], row["shared_at"], row["source"]) == (
        "orga_certificability",
        date(2025, 11, 14),
        None,
        "orga.csv",
    )
    events = {e.learner_id: e for e in await outbox_events(eligibility, CertifiabilityAssessed)}
    assert set(events) == {ids[a.ine], ids[b.ine]}
    assert events[ids[a.ine]].origin == "orga_certificability"
    assert events[ids[a.ine]].certifiable_at == date(2025, 11, 14)
    assert (events[ids[b.ine]].status, events[ids[b.ine]].certifiable_competences) == (
        "not_certifiable",
        None,
    )
    imports = await eligibility.pool.fetchrow(
        "SELECT rows, matched, assessed, not_available FROM certificability_imports"
    )
    assert tuple(imports) == (4, 2, 2, 1)
    assert d.ine not in {r["ine"] for r in report["unmatched"]}


async def test_the_more_recent_of_a_campaign_share_and_orga_wins_orga_on_a_tie(eligibility, learners):
    ids = await school_with(eligibility, learners)
    a = learners[0]
    await import_campaign(eligibility, a, date(2025, 11, 20))  # certifiable, shared on the 20th
    older = (await import_orga(eligibility, [OrgaCertificability(a.ine, False, date(2025, 11, 19))])).json()
    assert (older["assessed"], older["kept_more_recent"]) == ({}, 1)
    assert (await stored(eligibility, ids[a.ine]))["status"] == "certifiable"

    same_day = (
        await import_orga(eligibility, [OrgaCertificability(a.ine, False, date(2025, 11, 20))])
    ).json()
    assert same_day["assessed"] == {"not_certifiable": 1}
    row = await stored(eligibility, ids[a.ine])
    assert (row["status"], row["origin"], row["certifiable_count"]) == (
        "not_certifiable",
        "orga_certificability",
        None,
    )

    assert (await import_campaign(eligibility, a, date(2025, 11, 20)))[
        "kept_more_recent"
    ] == 1  # a tie: Orga stays
    assert (await import_campaign(eligibility, a, date(2025, 11, 21)))["assessed"] == {"certifiable": 1}
    row = await stored(eligibility, ids[a.ine])
    assert (row["status"], row["origin"], row["certifiable_at"], row["certifiable_count"]) == (
        "certifiable",
        "campaign_export",
        None,
        6,
    )
    origins = [e.origin for e in await outbox_events(eligibility, CertifiabilityAssessed)]
    assert origins == ["campaign_export", "orga_certificability", "campaign_export"]


async def test_a_bad_file_is_refused_whole_naming_file_line_and_column(eligibility, learners):
    await school_with(eligibility, learners)
    before = await stored_counts(eligibility)
    before_imports = await eligibility.pool.fetchval("SELECT count(*) FROM certificability_imports")
    data = (
        "INE;Certificabilité;Date de certificabilité\n"
        f"{learners[0].ine};Certifiable;14/11/2025\n"
        f"{learners[1].ine};Certifiable peut-être;14/11/2025\n"
        f"{learners[2].ine};Non certifiable;\n"
    ).encode()
    response = await upload(eligibility, f"/schools/{UAI}/orga-certificability", "orga-nov.csv", data)
    assert response.json()["error"]["code"] == "campaign_export.rejected"
    errors = rejected_errors(response, "orga-nov.csv")
    assert [(e["line"], e["column"], e["rule"]) for e in errors] == [
        (3, "Certificabilité", "orga.invalid_certificability"),
        (4, "Date de certificabilité", "cell.required"),
    ]
    assert await stored_counts(eligibility) == before
    assert await eligibility.pool.fetchval("SELECT count(*) FROM certificability_imports") == before_imports


async def test_a_bad_uai_is_refused_with_the_file(eligibility, learners):
    response = await upload(
        eligibility,
        "/schools/0211089A/orga-certificability",
        "orga.csv",
        orga_certificability_csv_bytes([OrgaCertificability(learners[0].ine, True, date(2025, 11, 14))]),
    )
    assert [e["rule"] for e in rejected_errors(response, "orga.csv")] == ["uai.invalid_check_letter"]
