"""The tests' token cache (tests/keycloak.py) fetches a token again before it expires."""

from __future__ import annotations

import base64
import json
import time

from tests.keycloak import _fresh


def _jwt(exp: float) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    return f"h.{payload}.s"


def test_a_token_is_reused_while_it_lives_and_fetched_again_near_its_end():
    fetched: list[str] = []
    lifetimes = iter([30, 300, 300])  # the first one has less than a minute left

    @_fresh
    def token(user: str) -> str:
        fetched.append(user)
        return _jwt(time.time() + next(lifetimes))

    first = token("staff")
    second = token("staff")
    assert second != first and fetched == ["staff", "staff"]
    assert token("staff") == second and fetched == ["staff", "staff"]
    token.cache_clear()  # type: ignore[attr-defined]
    token("staff")
    assert len(fetched) == 3
