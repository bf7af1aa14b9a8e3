"""Roster imports through the HTTP API on real Postgres: register, update, move, deactivate, reactivate."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eligibility_component_support import (
    UAI,
    bea,
    learner_row,
    outbox_events,
    roster_csv,
    upload_roster,
)

from deploy.local.generator import generate_learners, learner_csv_bytes, siecle_xml_bytes
from shared.contracts.events import (
    LearnerDeactivated,
    LearnerRegistered,
    LearnersImported,
    LearnerUpdated,
)
from shared.contracts.identifiers import mod23_letter

pytestmark = pytest.mark.integration


async def learners_by_ine(svc, include_inactive: bool = True) -> dict[str, dict]:
    response = await svc.http.get(
        f"/schools/{UAI}/learners", params={"include_inactive": str(include_inactive).lower()}
    )
    assert response.status_code == 200
    return {x["ine"]: x for x in response.json()["learners"]}


async def test_csv_roster_registers_every_learner_with_all_siecle_fields_and_events(eligibility):
    hugo_ine = bea("1111111111")
    data = roster_csv(
        learner_row(),
        learner_row(
            ine=hugo_ine,
            first_name="Hugo",
            second_name="Jean",
            sex="M",
            usage_name="Martin",
            birth_country_code="351",
            birth_department_code="099",
            birth_city_code="",
            birth_city="ALGER",
            division="3B",
        ),
    )
    response = await upload_roster(eligibility, "eleves.csv", data)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["file_format"], report["total"], report["registered"]) == ("pix_orga_csv", 2, 2)
    assert (report["updated"], report["deactivated"], report["reactivated"]) == (0, 0, 0)

    learners = await learners_by_ine(eligibility)
    hugo = learners[hugo_ine]
    assert (hugo["second_name"], hugo["usage_name"], hugo["birth_city"], hugo["division"]) == (
        "Jean",
        "Martin",
        "ALGER",
        "3B",
    )
    assert (hugo["birth_country_code"], hugo["sex"], hugo["birth_date"]) == ("351", "M", "2011-03-14")

    registered = await outbox_events(eligibility, LearnerRegistered)
    assert {e.learner_id for e in registered} == {x["learner_id"] for x in learners.values()}
    hugo_event = next(e for e in registered if e.ine == hugo_ine)
    assert (hugo_event.middle_name, hugo_event.preferred_last_name, hugo_event.division) == (
        "Jean",
        "Martin",
        "3B",
    )
    [summary] = await outbox_events(eligibility, LearnersImported)
    assert (summary.uai, summary.total, summary.registered, summary.file_name) == (UAI, 2, 2, "eleves.csv")


async def test_siecle_xml_is_detected_and_leavers_are_reported_as_skipped(eligibility):
    learners = generate_learners(11, 5)
    xml = siecle_xml_bytes(learners, UAI, left_school=frozenset({learners[0].ine}))
    response = await eligibility.http.post(
        f"/schools/{UAI}/rosters", content=xml, params={"file_name": "ElevesSansAdresses.xml"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["file_format"], report["registered"]) == ("siecle_xml", 4)
    assert [s["reason"] for s in report["skipped"]] == ["sorti(e) le 15/11/2025"]
    assert set(await learners_by_ine(eligibility)) == {x.ine for x in learners[1:]}


async def test_reimport_moves_classes_deactivates_absent_learners_and_keeps_ids(eligibility):
    learners = generate_learners(12, 6)
    first = (await upload_roster(eligibility, "v1.csv", learner_csv_bytes(learners))).json()
    assert first["registered"] == 6
    ids = {ine: x["learner_id"] for ine, x in (await learners_by_ine(eligibility)).items()}

    moved = replace(learners[0], division="3Z")
    second_roster = [moved, *learners[1:4]]  # learners[4] and [5] left
    second = (await upload_roster(eligibility, "v2.csv", learner_csv_bytes(second_roster))).json()
    assert (second["registered"], second["updated"], second["class_changes"]) == (0, 1, 1)
    assert (second["deactivated"], second["unchanged"]) == (2, 3)

    stored = await learners_by_ine(eligibility)
    assert {ine: x["learner_id"] for ine, x in stored.items()} == ids  # nobody deleted, ids stable
    assert stored[moved.ine]["division"] == "3Z"
    assert {ine for ine, x in stored.items() if not x["active"]} == {learners[4].ine, learners[5].ine}
    assert len(await learners_by_ine(eligibility, include_inactive=False)) == 4

    [update] = await outbox_events(eligibility, LearnerUpdated)
    assert (update.learner_id, update.division, update.changed_fields) == (ids[moved.ine], "3Z", ["division"])
    gone = await outbox_events(eligibility, LearnerDeactivated)
    assert {e.learner_id for e in gone} == {ids[learners[4].ine], ids[learners[5].ine]}

    third = (await upload_roster(eligibility, "v3.csv", learner_csv_bytes(learners))).json()
    assert (third["reactivated"], third["updated"], third["deactivated"]) == (2, 1, 0)
    stored = await learners_by_ine(eligibility, include_inactive=False)
    assert {ine: x["learner_id"] for ine, x in stored.items()} == ids
    back = [e for e in await outbox_events(eligibility, LearnerUpdated) if "active" in e.changed_fields]
    assert {e.learner_id for e in back} == {ids[learners[4].ine], ids[learners[5].ine]}


async def test_same_roster_twice_changes_nothing(eligibility):
    data = learner_csv_bytes(generate_learners(13, 4))
    await upload_roster(eligibility, "v1.csv", data)
    again = (await upload_roster(eligibility, "v1.csv", data)).json()
    assert (again["registered"], again["updated"], again["deactivated"], again["unchanged"]) == (0, 0, 0, 4)
    assert len(await outbox_events(eligibility, LearnerRegistered)) == 4
    assert len(await outbox_events(eligibility, LearnersImported)) == 2


async def test_rosters_of_two_schools_stay_apart(eligibility):
    other = "0750001" + mod23_letter("0750001")
    data = roster_csv(learner_row())
    assert (await upload_roster(eligibility, "a.csv", data)).status_code == 200
    assert (await upload_roster(eligibility, "b.csv", data, uai=other)).status_code == 200
    only_other = (
        await upload_roster(eligibility, "b2.csv", roster_csv(learner_row(ine=bea("3333333333"))), uai=other)
    ).json()
    assert only_other["deactivated"] == 1
    assert len(await learners_by_ine(eligibility, include_inactive=False)) == 1  # first school intact
    assert len(await learners_by_ine(eligibility)) == 1
