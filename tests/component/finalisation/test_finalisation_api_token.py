"""API_TOKEN (or its older name FINALISATION_API_TOKEN): finalisation and results intake closed to
callers without it, state unchanged; the invigilator space keeps its own login."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.finalisation.app import definition
from shared.contracts.events import ResultsProcessed, SessionFinalised
from tests.component.finalisation.conftest import Finalisation
from tests.component.finalisation.finalisation_support import (
    Invigilator,
    finalisation_body,
    livret_entry,
    livret_json,
    session_events,
)

TOKEN = "academie-portal-token-0123456789"


def error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("setting", ["api_token", "finalisation_api_token"])
async def test_finalisation_and_intake_need_the_api_token_when_it_is_set(start_service, setting):
    finalisation = Finalisation(await start_service(definition, **{setting: TOKEN}))
    session = await finalisation.seed(session_events(2))
    invigilator = Invigilator(finalisation.http, session)
    assert (await invigilator.log_in()).status_code == 200  # the invigilator space keeps its own login
    await invigilator.take_test(0)
    body = finalisation_body(session, {0: None})
    url = f"/sessions/{session.session_id}/finalisation"

    refusals = [
        (await finalisation.http.put(url, json=body), "auth.missing_token"),
        (await finalisation.http.put(url, json=body, headers=bearer("not-the-token")), "auth.invalid_token"),
        # an invigilator token opens the room, not the referent's finalisation
        (await finalisation.http.put(url, json=body, headers=invigilator.headers), "auth.invalid_token"),
        (await finalisation.http.put(url, json={"bad": "body"}), "auth.missing_token"),
    ]
    for response, code in refusals:
        assert error(response) == (401, code), response.text
    assert await finalisation.count("finalisations") == 0
    assert await finalisation.raised(SessionFinalised) == []

    assert (await finalisation.http.put(url, json=body, headers=bearer(TOKEN))).status_code == 200

    data = livret_json(livret_entry(9001, session.candidate(0)))
    for path in (f"/sessions/{session.session_id}/results", "/results"):
        for headers in ({}, bearer("not-the-token")):
            response = await finalisation.http.post(
                path, content=data, headers={"Content-Type": "application/json", **headers}
            )
            assert response.status_code == 401, response.text
    assert await finalisation.count("session_results") == 0
    assert await finalisation.raised(ResultsProcessed) == []

    accepted = await finalisation.http.post(
        f"/sessions/{session.session_id}/results",
        content=data,
        headers={"Content-Type": "application/json", **bearer(TOKEN)},
    )
    assert accepted.status_code == 200, accepted.text
    assert len(await finalisation.raised(ResultsProcessed)) == 1


async def test_with_both_names_set_either_token_is_accepted(start_service):
    portal_token, pix_token = "academie-gateway-token-0123456789", TOKEN
    finalisation = Finalisation(
        await start_service(definition, api_token=portal_token, finalisation_api_token=pix_token)
    )
    session = await finalisation.seed(session_events(1))
    invigilator = Invigilator(finalisation.http, session)
    assert (await invigilator.log_in()).status_code == 200
    await invigilator.take_test(0)
    url = f"/sessions/{session.session_id}/finalisation"
    body = finalisation_body(session, {0: None})
    assert error(await finalisation.http.put(url, json=body, headers=bearer(portal_token + "x"))) == (
        401,
        "auth.invalid_token",
    )
    assert (await finalisation.http.put(url, json=body, headers=bearer(portal_token))).status_code == 200
    intake = await finalisation.http.post(
        f"/sessions/{session.session_id}/results",
        content=livret_json(livret_entry(9001, session.candidate(0))),
        headers={"Content-Type": "application/json", **bearer(pix_token)},  # what the Pix sandbox sends
    )
    assert intake.status_code == 200, intake.text


@pytest.mark.parametrize("setting", ["api_token", "finalisation_api_token"])
def test_a_short_api_token_is_refused_at_start(setting):
    with pytest.raises(ValidationError):
        definition.settings_class(**{setting: "short"})
