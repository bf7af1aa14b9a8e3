"""A plan proposal asked for with an Idempotency-Key is stored once (issue 11 item 2): the driver
resends it when a restart or a timeout loses the answer, and must not leave a second proposal."""

from __future__ import annotations

import pytest

from tests.component.scheduler.builders import add_class, error_code, new_uai, put_school, snapshot

pytestmark = pytest.mark.integration


async def _school(svc) -> str:
    uai = new_uai()
    await put_school(svc, uai)
    await add_class(svc, uai, "T1", 25)
    return uai


async def _plans_of(svc, uai: str) -> int:
    return await svc.pool.fetchval("SELECT count(*) FROM plans WHERE uai = $1", uai)


async def test_a_resend_with_the_same_key_returns_the_first_proposal_and_stores_no_second(svc):
    uai = await _school(svc)
    headers = {"Idempotency-Key": "plan-T1-first-try"}
    first = await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"}, headers=headers)
    assert first.status_code == 201, first.text
    before = await snapshot(svc)

    again = await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"}, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert await snapshot(svc) == before and await _plans_of(svc, uai) == 1

    # without a key (or with another one) each request is a new proposal, as before
    other = await svc.http.post(
        f"/schools/{uai}/plans", json={"school_year": "2025-2026"}, headers={"Idempotency-Key": "another"}
    )
    assert other.json()["plan_id"] != first.json()["plan_id"]
    await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})
    assert await _plans_of(svc, uai) == 3


async def test_the_same_key_for_another_request_is_refused_and_changes_nothing(svc):
    uai = await _school(svc)
    headers = {"Idempotency-Key": "plan-once"}
    await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"}, headers=headers)
    before = await snapshot(svc)

    reused = await svc.http.post(
        f"/schools/{uai}/plans", json={"school_year": "2025-2026", "catch_up": True}, headers=headers
    )
    assert (reused.status_code, error_code(reused)) == (409, "plan.idempotency_key_reused")
    assert "plan-once" in reused.json()["error"]["message"]
    assert await snapshot(svc) == before


async def test_a_key_is_the_school_s_own(svc):
    """Two schools may use the same key (each client draws its own): two proposals."""
    a, b = await _school(svc), await _school(svc)
    headers = {"Idempotency-Key": "same-key"}
    for uai in (a, b):
        reply = await svc.http.post(
            f"/schools/{uai}/plans", json={"school_year": "2025-2026"}, headers=headers
        )
        assert reply.status_code == 201, reply.text
    assert await _plans_of(svc, a) == await _plans_of(svc, b) == 1


async def test_an_empty_or_oversized_key_is_refused_naming_the_header(svc):
    uai = await _school(svc)
    for key in ("", "k" * 201):
        reply = await svc.http.post(
            f"/schools/{uai}/plans", json={"school_year": "2025-2026"}, headers={"Idempotency-Key": key}
        )
        assert reply.status_code == 422, reply.text
        assert "Idempotency-Key" in reply.text
    assert await _plans_of(svc, uai) == 0
