"""Campaign-export imports and the certifiability dashboards, through the HTTP API on real Postgres."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from eligibility_component_support import (
    UAI,
    outbox_events,
    rejected_errors,
    stored_counts,
    upload,
    upload_roster,
)

from deploy.local.generator import (
    Participation,
    campaign_csv_bytes,
    generate_learners,
    learner_csv_bytes,
)
from shared.contracts.events import CertifiabilityAssessed

pytestmark = pytest.mark.integration

#: pix per competence (framework order): 6 at level ≥ 1 → certifiable; 3 → needs 2 more.
SIX = (8, 16, 9, 40, 8, 8, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0)
THREE = (8, 16, 9, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def shared(learner, pix, when=date(2025, 11, 10), **overrides) -> Participation:
    return Participation(
        learner.last_name, learner.first_name, learner.division, learner.ine, True, when, pix, **overrides
    )


def unshared(learner) -> Participation:
    return Participation(learner.last_name, learner.first_name, learner.division, learner.ine, False)


async def school_with(svc, learners) -> dict[str, str]:
    """Import the roster; return learner ids by INE."""
    assert (await upload_roster(svc, "eleves.csv", learner_csv_bytes(learners))).status_code == 200
    rows = await svc.pool.fetch("SELECT ine, learner_id::text AS id FROM learners")
    return {r["ine"]: r["id"] for r in rows}


async def import_export(svc, data: bytes, file_name: str = "export.csv", **params):
    return await upload(svc, f"/schools/{UAI}/campaign-exports", file_name, data, **params)


@pytest.fixture
def third_graders():
    return [replace(x, division="3A") for x in generate_learners(21, 5)]


async def test_export_rows_are_matched_and_certifiability_recomputed_per_class(eligibility, third_graders):
    ids = await school_with(eligibility, third_graders)
    a, b, c, d, e = third_graders
    stranger = replace(a, last_name="Inconnu", first_name="Personne", ine="999999999ZZ")
    export = campaign_csv_bytes(
        [
            shared(a, SIX),
            shared(b, THREE),
            unshared(c),
            shared(stranger, SIX),
            shared(replace(d, ine=""), SIX),  # no INE: matched on names + class
        ]
    )
    response = await import_export(eligibility, export)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["matched"]) == (5, 4)
    assert report["matched_by"] == {"external_id": 3, "names_and_class": 1}
    assert [(u["line"], u["last_name"]) for u in report["unmatched"]] == [(5, "Inconnu")]
    assert report["disagreements"] == []

    dashboard = (await eligibility.http.get(f"/schools/{UAI}/classes/3A/certifiability")).json()
    assert dashboard["counts"] == {
        "total": 5,
        "certifiable": 2,
        "not_certifiable": 1,
        "unknown": 2,
        "certifiable_rate": 0.4,
    }
    students = {s["learner_id"]: s for s in dashboard["students"]}
    assert (students[ids[a.ine]]["status"], students[ids[a.ine]]["competences_needed"]) == ("certifiable", 0)
    assert students[ids[b.ine]]["status"] == "not_certifiable"
    assert (students[ids[b.ine]]["certifiable_competences"], students[ids[b.ine]]["competences_needed"]) == (
        3,
        2,
    )
    assert "2.1" in students[ids[b.ine]]["competences_at_level_zero"]
    assert students[ids[c.ine]]["status"] == "unknown"  # not shared: unknown, not "not certifiable"
    assert students[ids[e.ine]]["status"] == "unknown"  # absent from the export

    events = {ev.learner_id: ev for ev in await outbox_events(eligibility, CertifiabilityAssessed)}
    assert set(events) == {ids[a.ine], ids[b.ine], ids[c.ine], ids[d.ine]}
    assert (events[ids[b.ine]].certifiable_competences, events[ids[b.ine]].competences_needed) == (3, 2)
    assert events[ids[c.ine]].status == "unknown" and events[ids[c.ine]].certifiable_competences is None
    assert events[ids[a.ine]].pix_total == sum(SIX) and events[ids[a.ine]].source == "export.csv"


async def test_disagreement_between_the_files_verdict_and_its_levels_is_recorded_and_reported(
    eligibility, third_graders
):
    ids = await school_with(eligibility, third_graders)
    a = third_graders[0]
    export = campaign_csv_bytes([shared(a, THREE)]).decode()
    # Pix said "Oui" with 6 certifiable competences; the levels only give 3.
    header, row = export.rstrip("\n").split("\n")
    cells = row.split(";")
    certifiable_at = header.split(";").index('"Certifiable (O/N)"')
    cells[certifiable_at], cells[certifiable_at + 1] = '"Oui"', "6"
    data = (header + "\n" + ";".join(cells) + "\n").encode()
    report = (await import_export(eligibility, data)).json()
    assert sorted((d["rule"], d["file_value"], d["computed_value"]) for d in report["disagreements"]) == [
        ("campaign.certifiable_mismatch", True, False),
        ("campaign.count_mismatch", 6, 3),
    ]
    assert {d["learner_id"] for d in report["disagreements"]} == {ids[a.ine]}
    stored = await eligibility.pool.fetch("SELECT rule, line FROM assessment_disagreements ORDER BY rule")
    assert [(r["rule"], r["line"]) for r in stored] == [
        ("campaign.certifiable_mismatch", 2),
        ("campaign.count_mismatch", 2),
    ]
    assert (await eligibility.http.get(f"/schools/{UAI}/certifiability")).json()["counts"][
        "not_certifiable"
    ] == 1


async def test_ambiguous_names_without_ine_are_reported_not_guessed(eligibility, third_graders):
    a, b = (
        third_graders[0],
        replace(
            third_graders[1],
            last_name=third_graders[0].last_name,
            first_name=third_graders[0].first_name,
            birth_date=date(2011, 7, 1),
        ),
    )
    await school_with(eligibility, [a, b])
    report = (await import_export(eligibility, campaign_csv_bytes([shared(replace(a, ine=""), SIX)]))).json()
    assert report["matched"] == 0 and len(report["ambiguous"]) == 1
    assert len(report["ambiguous"][0]["candidate_learner_ids"]) == 2
    assert await outbox_events(eligibility, CertifiabilityAssessed) == []


async def test_a_later_unshared_or_older_row_never_overwrites_a_known_profile(eligibility, third_graders):
    ids = await school_with(eligibility, third_graders)
    a = third_graders[0]
    await import_export(eligibility, campaign_csv_bytes([shared(a, SIX, date(2025, 11, 20))]), "first.csv")
    older = (
        await import_export(eligibility, campaign_csv_bytes([shared(a, THREE, date(2025, 10, 1))]))
    ).json()
    not_sent = (await import_export(eligibility, campaign_csv_bytes([unshared(a)]))).json()
    assert older["kept_more_recent"] == 1 and not_sent["kept_more_recent"] == 1
    status = await eligibility.pool.fetchval(
        "SELECT status FROM assessments WHERE learner_id = $1::uuid", ids[a.ine]
    )
    assert status == "certifiable"
    newer = campaign_csv_bytes([shared(a, THREE, date(2025, 12, 1))])
    assert (await import_export(eligibility, newer)).json()["assessed"] == {"not_certifiable": 1}


async def test_bad_campaign_export_is_refused_whole(eligibility, third_graders):
    await school_with(eligibility, third_graders)
    before = await stored_counts(eligibility)
    good = campaign_csv_bytes([shared(x, SIX) for x in third_graders]).decode()
    lines = good.split("\n")
    lines[3] = lines[3].replace('"Oui"', '"Peut-être"', 1)
    lines[4] = lines[4].replace(f'"{third_graders[3].last_name}"', '"=1+1"', 1)
    data = "\n".join(lines).encode()
    errors = rejected_errors(await import_export(eligibility, data, "collecte.csv"), "collecte.csv")
    assert [(e["line"], e["column"], e["rule"]) for e in errors] == [
        (4, "Envoi (O/N)", "campaign.invalid_yes_no"),
        (5, "Nom du Participant", "cell.formula_injection"),
    ]
    assert await stored_counts(eligibility) == before


async def test_campaign_export_missing_a_competence_column_is_refused(eligibility, third_graders):
    await school_with(eligibility, third_graders)
    before = await stored_counts(eligibility)
    data = campaign_csv_bytes([shared(third_graders[0], SIX)], competence_names={"3.4": "Jouer"})
    errors = rejected_errors(await import_export(eligibility, data), "export.csv")
    assert {e["rule"] for e in errors} == {"campaign.unknown_competence", "campaign.missing_competence"}
    assert all(e["line"] == 1 for e in errors)
    assert await stored_counts(eligibility) == before


async def test_school_summary_counts_each_class(eligibility):
    learners = generate_learners(22, 8)
    ids = await school_with(eligibility, learners)
    await import_export(eligibility, campaign_csv_bytes([shared(x, SIX) for x in learners[:3]]))
    summary = (await eligibility.http.get(f"/schools/{UAI}/certifiability")).json()
    assert summary["counts"]["total"] == 8 and summary["counts"]["certifiable"] == 3
    by_class = {c["division"]: c["counts"] for c in summary["classes"]}
    expected: dict[str, int] = {}
    for x in learners:
        expected[x.division] = expected.get(x.division, 0) + 1
    assert {d: c["total"] for d, c in by_class.items()} == expected
    assert sum(c["certifiable"] for c in by_class.values()) == 3
    assert len(ids) == 8


async def test_unknown_class_and_bad_uai_on_queries(eligibility):
    missing = await eligibility.http.get(f"/schools/{UAI}/classes/9Z/certifiability")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "class.not_found"
    bad = await eligibility.http.get("/schools/0211089A/certifiability")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "uai.invalid_check_letter"
