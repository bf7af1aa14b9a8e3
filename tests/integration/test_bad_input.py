"""Every file of the bad-input corpus through the real endpoints: a named refusal, nothing stored.

Eligibility and finalisation run whole (real PostgreSQL and Kafka). A valid school is imported
first; then each file of tests/fixtures/bad_input/ goes to its endpoint, and the answer must be the
one the corpus expects, every error naming the file, the line and the column (or the field) and
the rule — and afterwards each service's tables hold exactly what they held before (row counts and
contents of every table, the outbox included), and the service still answers. A property test then
mutates the valid roster at random and checks the same of whatever comes out.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.eligibility.app import definition as eligibility
from services.finalisation.app import definition as finalisation
from tests.fixtures.bad_input.corpus import CASES, EXPECTED, ROSTER, UAI, Case, _campaign, declared

pytestmark = pytest.mark.integration

BY_NAME = {case.name: case for case in CASES}


async def fingerprint(pool) -> dict[str, str]:
    """Each table of the service's schema → a hash of the corpus school's rows: what a refusal must
    not touch. Only that school's rows: the services also consume the suite's shared topics, so
    rows of other tests' schools come and go meanwhile; the outbox by its events' content, without
    ``published_at`` (the relay sets it when it likes)."""
    async with pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            " AND table_type = 'BASE TABLE' AND table_name NOT IN ('schema_migrations', 'outbox', 'inbox')"
        )
        found = {}
        for (table,) in tables:
            rows = await conn.fetch(
                f'SELECT t::text AS row FROM "{table}" t WHERE strpos(t::text, $1) > 0', UAI
            )
            found[table] = _digest(r["row"] for r in rows)
        events = await conn.fetch(
            "SELECT event_id::text || event_type || convert_from(payload, 'UTF8') AS row FROM outbox"
            " WHERE strpos(convert_from(payload, 'UTF8'), $1) > 0",
            UAI,
        )
        found["outbox"] = _digest(r["row"] for r in events)
        return found


def _digest(rows) -> str:
    rows = sorted(rows)
    return f"{len(rows)}:{hashlib.sha256(chr(10).join(rows).encode()).hexdigest()[:16]}"


@pytest.fixture(scope="module")
async def services(start_service_module):
    elig = await start_service_module(eligibility, max_upload_bytes=20_000_000)
    fin = await start_service_module(finalisation)
    roster = await elig.http.post(f"/schools/{UAI}/rosters", files={"file": ("eleves.csv", ROSTER)})
    assert roster.status_code == 200, roster.text
    campaign = await elig.http.post(
        f"/schools/{UAI}/campaign-exports", files={"file": ("export.csv", _campaign())}
    )
    assert campaign.status_code == 200, campaign.text
    return elig, fin


async def send(services, case: Case, body: bytes) -> Any:
    elig, fin = services
    files = {"file": (case.name, body)}
    if case.endpoint == "roster":
        return elig, await elig.http.post(f"/schools/{UAI}/rosters", files=files)
    if case.endpoint == "campaign":
        return elig, await elig.http.post(f"/schools/{UAI}/campaign-exports", files=files)
    return fin, await fin.http.post("/results", params={"uai": UAI}, files=files)


def assert_names_every_error(case_name: str, payload: dict[str, Any]) -> None:
    """Eligibility: ``errors`` of {file, line, column, rule, message}; finalisation: ``problems``."""
    details = payload["error"].get("details", {})
    errors = details.get("errors") or details.get("problems") or []
    assert errors, f"{case_name}: a refusal without the errors that explain it: {payload}"
    assert details.get("file", details.get("file_name")) == case_name
    for error in errors:
        assert error.get("message"), error
        assert "line" in error and "column" in error, error


def test_the_committed_corpus_is_what_the_declarations_make():
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert expected == [declared(c) for c in CASES]
    assert len(CASES) >= 50
    for case in CASES:
        if not case.generated:
            assert case.body() == case.make(), (
                f"{case.name}: regenerate with python -m tests.fixtures.bad_input.corpus"
            )


@pytest.mark.parametrize("name", list(BY_NAME))
async def test_each_bad_file_is_refused_by_name_and_changes_nothing(services, name):
    case = BY_NAME[name]
    body = case.body()
    service = services[0] if case.endpoint != "results" else services[1]
    before = await fingerprint(service.pool)
    _, answer = await send(services, case, body)
    assert answer.status_code == case.status, f"{name}: {answer.status_code} {answer.text[:600]}"
    if case.code is not None:
        payload = answer.json()
        assert payload["error"]["code"] == case.code, payload
        if case.endpoint != "results" or case.code not in ("results.empty", "results.too_large"):
            assert_names_every_error(name, payload)
        rules = {e["rule"] for e in payload["error"]["details"].get("errors", [])}
        assert set(case.rules) <= rules, f"{name}: rules {sorted(rules)}, expected {case.rules}"
    after = await fingerprint(service.pool)
    if case.code is not None:
        assert after == before, f"{name}: the refused file left a trace"
    else:  # accepted again: its import is logged, the learners are as they were
        assert after["learners"] == before["learners"]
    assert (await service.http.get("/health")).status_code == 200


def _replace_cell(lines: list[str], row: int, column: int, value: str) -> bytes:
    cells = lines[row].split(";")
    cells[column % len(cells)] = value
    changed = [*lines[:row], ";".join(cells), *lines[row + 1 :]]
    return ("\n".join(changed) + "\n").encode("utf-8", "surrogatepass")


def _mutations() -> st.SearchStrategy[bytes]:
    lines = ROSTER.decode("utf-8").splitlines()
    line = st.integers(0, len(lines) - 1)
    flip = st.tuples(st.integers(0, len(ROSTER) - 1), st.integers(0, 255)).map(
        lambda p: ROSTER[: p[0]] + bytes([p[1]]) + ROSTER[p[0] + 1 :]
    )
    drop = line.map(lambda i: "\n".join(lines[:i] + lines[i + 1 :]).encode() + b"\n")
    dup = line.map(lambda i: "\n".join(lines[: i + 1] + lines[i:]).encode() + b"\n")
    cell = st.tuples(line, st.integers(0, 14), st.text(max_size=30)).map(lambda p: _replace_cell(lines, *p))
    cut = st.integers(0, len(ROSTER)).map(lambda n: ROSTER[:n])
    return st.one_of(flip, drop, dup, cell, cut)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_mutations())
async def test_a_mutated_roster_is_imported_or_refused_by_name_never_half_imported(services, body):
    elig = services[0]
    before = await fingerprint(elig.pool)
    answer = await elig.http.post(f"/schools/{UAI}/rosters", files={"file": ("mutated.csv", body)})
    assert answer.status_code in (200, 422), answer.text[:600]
    if answer.status_code == 422:
        payload = answer.json()
        assert payload["error"]["code"] in ("roster.rejected", "upload.file_missing"), payload
        if payload["error"]["code"] == "roster.rejected":
            assert_names_every_error("mutated.csv", payload)
            assert all(e["rule"] for e in payload["error"]["details"]["errors"])
        assert await fingerprint(elig.pool) == before
    else:  # accepted: put the valid school back for the next example
        restored = await elig.http.post(f"/schools/{UAI}/rosters", files={"file": ("eleves.csv", ROSTER)})
        assert restored.status_code == 200
