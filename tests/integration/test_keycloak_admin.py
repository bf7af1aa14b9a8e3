"""The local realm's users for the schools of a run, added to a running Keycloak by its admin API
(deploy/local/localinfra/keycloak_admin.py, what run-academie --keep-running does): their tokens carry
their school, as the users of the imported realm's do."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from deploy.local.localinfra.keycloak_admin import delete_user, ensure_user
from deploy.local.localinfra.realm import realm_user, staff_user
from tests.console_support import KEYCLOAK_BASE
from tests.keycloak import password_token

pytestmark = pytest.mark.integration


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_user_added_to_the_running_realm_signs_in_with_its_school_and_role() -> None:
    uai = f"{uuid.uuid4().int % 10_000_000:07d}Z"
    username = staff_user(uai)
    try:
        assert ensure_user(KEYCLOAK_BASE, realm_user(username, ["staff"], [uai]))
        assert not ensure_user(KEYCLOAK_BASE, realm_user(username, ["staff"], [uai]))  # once only
        token = claims(password_token(username))
        assert token["uai"] == [uai] and "staff" in token["realm_access"]["roles"]
    finally:
        delete_user(KEYCLOAK_BASE, username)
