"""API_TOKEN: rosters, campaign exports and dashboards (names, INE, birth dates) closed without it."""

from __future__ import annotations

import pytest
from eligibility_component_support import UAI, learner_row, roster_csv, stored_counts

from services.eligibility.app import definition

pytestmark = pytest.mark.integration

TOKEN = "academie-gateway-token-0123456789"


async def test_school_routes_need_the_api_token_when_it_is_set(start_service):
    eligibility = await start_service(definition, api_token=TOKEN)
    before = await stored_counts(eligibility)
    roster = {"file": ("eleves.csv", roster_csv(learner_row()))}
    for headers, code in (
        ({}, "auth.missing_token"),
        ({"Authorization": "Bearer not-the-api-token-at-all"}, "auth.invalid_token"),
    ):
        for response in (
            await eligibility.http.post(f"/schools/{UAI}/rosters", files=roster, headers=headers),
            await eligibility.http.post(f"/schools/{UAI}/campaign-exports", files=roster, headers=headers),
            await eligibility.http.get(f"/schools/{UAI}/learners", headers=headers),
            await eligibility.http.get(f"/schools/{UAI}/certifiability", headers=headers),
            await eligibility.http.get(f"/schools/{UAI}/classes/3A/certifiability", headers=headers),
        ):
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == code
    assert await stored_counts(eligibility) == before  # nothing imported, no event

    token = {"Authorization": f"Bearer {TOKEN}"}
    imported = await eligibility.http.post(f"/schools/{UAI}/rosters", files=roster, headers=token)
    assert imported.status_code == 200, imported.text
    learners = await eligibility.http.get(f"/schools/{UAI}/learners", headers=token)
    assert len(learners.json()["learners"]) == 1
    assert (await eligibility.http.get("/health")).status_code == 200
