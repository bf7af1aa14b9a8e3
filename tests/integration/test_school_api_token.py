"""API_TOKEN on real HTTP: a school-API route refuses callers without the token before reading their
body, leaves the state unchanged, and accepts the token; operations routes stay open; unset, the
API is open and the service says so at start-up."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import Depends
from pydantic import BaseModel, ValidationError

from shared.http import school_api_router
from shared.service import Runtime, ServiceDefinition, get_runtime
from shared.settings import ServiceSettings
from tests.serving import served

pytestmark = pytest.mark.integration

TOKEN = "academie-gateway-token-0123456789"

school = school_api_router()


class Note(BaseModel):
    text: str


@school.post("/schools/{uai}/notes", status_code=201)
async def add_note(uai: str, body: Note, runtime: Runtime = Depends(get_runtime)) -> dict:
    async with runtime.unit_of_work() as uow:
        await uow.conn.execute("CREATE TABLE IF NOT EXISTS notes (uai text, text text)")
        await uow.conn.execute("INSERT INTO notes VALUES ($1, $2)", uai, body.text)
    return {"uai": uai}


definition = ServiceDefinition(name="scheduler", router=school)


async def notes(svc) -> int:
    exists = await svc.pool.fetchval("SELECT to_regclass('notes') IS NOT NULL")
    return await svc.pool.fetchval("SELECT count(*) FROM notes") if exists else 0


async def test_a_school_route_needs_the_token_and_checks_it_before_reading_the_body(start_service):
    svc = await start_service(definition, api_token=TOKEN)
    async with served(lambda _url: svc.app, lifespan="off") as url, httpx.AsyncClient(base_url=url) as http:
        path, body = "/schools/0750001A/notes", {"text": "salle B12"}
        refusals = [
            (await http.post(path, json=body), "auth.missing_token"),
            (await http.post(path, json=body, headers={"Authorization": "Basic " + TOKEN}), "auth.missing_token"),
            (await http.post(path, json=body, headers={"Authorization": "Bearer"}), "auth.missing_token"),
            (await http.post(path, json=body, headers={"Authorization": f"Bearer {TOKEN}x"}), "auth.invalid_token"),
            (await http.post(path, json=body, headers={"Authorization": f"Bearer {TOKEN[:-1]}"}), "auth.invalid_token"),
            # a body FastAPI cannot even parse is refused for the token, not described in a 422
            (await http.post(path, content=b"{not json", headers={"Content-Type": "application/json"}), "auth.missing_token"),
        ]  # fmt: skip
        for response, code in refusals:
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == code
            assert response.headers["www-authenticate"].startswith("Bearer")
        assert await notes(svc) == 0  # nothing changed

        # headers announcing 50 MB that never come: the answer does not wait for the body
        reader, writer = await asyncio.open_connection(*url.removeprefix("http://").split(":"))
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: 50000000\r\n\r\n".encode()
            )
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 5)
            assert status.startswith(b"HTTP/1.1 401"), status
        finally:
            writer.close()

        accepted = await http.post(path, json=body, headers={"Authorization": f"bearer  {TOKEN}"})
        assert accepted.status_code == 201, accepted.text
        assert await notes(svc) == 1

        for open_path in ("/health", "/ready", "/docs", "/openapi.json"):
            assert (await http.get(open_path)).status_code == 200, open_path
        openapi = (await http.get("/openapi.json")).json()
        operation = openapi["paths"]["/schools/{uai}/notes"]["post"]
        assert operation["security"] == [{"API token": []}] and "401" in operation["responses"]
        assert "security" not in openapi["paths"]["/health"]["get"]


async def test_without_a_token_the_school_api_is_open_and_the_service_warns(start_service, capsys):
    svc = await start_service(definition)
    assert "school API open" in capsys.readouterr().out
    async with served(lambda _url: svc.app, lifespan="off") as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/schools/0750001A/notes", json={"text": "CDI"})
        assert response.status_code == 201, response.text


async def test_with_a_token_the_service_does_not_warn(start_service, capsys):
    await start_service(definition, api_token=TOKEN)
    assert "school API open" not in capsys.readouterr().out


@pytest.mark.parametrize("token", ["too-short", "", "sixteen chars with spaces", "jeton-académie-0123456789"])
def test_an_unfit_token_stops_the_service_at_start_without_echoing_it(token):
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(api_token=token)
    assert "api_token" in str(refused.value)
    assert token not in str(refused.value) or not token
