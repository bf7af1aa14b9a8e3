"""The local Keycloak's admin REST API: add a client or a user to a realm that is already running.

A realm is imported only when Keycloak starts on an empty store, so a client added to realm.py
later (the console's) or the users of a run's schools are created here instead, without a restart
that would interrupt whoever else uses the provider. Local development values only.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from .realm import REALM

#: the bootstrap administrator keycloak.py starts Keycloak with (local only)
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-local"


def _call(method: str, url: str, token: str | None = None, body: Any = None, form: dict | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as reply:
        text = reply.read()
    return json.loads(text) if text else None


def admin_token(base_url: str) -> str:
    reply = _call(
        "POST",
        f"{base_url}/realms/master/protocol/openid-connect/token",
        form={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": ADMIN_USER,
            "password": ADMIN_PASSWORD,
        },
    )
    return reply["access_token"]


def ensure_client(base_url: str, client: dict[str, Any], realm: str = REALM) -> bool:
    """Create the client unless the realm has one with its clientId. True when it was created."""
    token = admin_token(base_url)
    query = urllib.parse.urlencode({"clientId": client["clientId"]})
    if _call("GET", f"{base_url}/admin/realms/{realm}/clients?{query}", token):
        return False
    _call("POST", f"{base_url}/admin/realms/{realm}/clients", token, client)
    return True


def keep_unmanaged_attributes(base_url: str, token: str, realm: str = REALM) -> None:
    """Let the admin API store the ``uai`` attribute: Keycloak 26's user profile drops attributes it
    does not declare from admin writes (a realm import keeps them) unless the realm allows them."""
    url = f"{base_url}/admin/realms/{realm}/users/profile"
    profile = _call("GET", url, token)
    if profile.get("unmanagedAttributePolicy") not in ("ENABLED", "ADMIN_EDIT"):
        _call("PUT", url, token, {**profile, "unmanagedAttributePolicy": "ADMIN_EDIT"})


def ensure_user(base_url: str, user: dict[str, Any], realm: str = REALM, token: str | None = None) -> bool:
    """Create the user (with its password, attributes and realm roles) unless it exists, whose
    attributes are then set again. True when created. ``token``: an admin token to reuse (it lasts a
    minute) for many users in a row."""
    token = token or admin_token(base_url)
    base = f"{base_url}/admin/realms/{realm}"
    keep_unmanaged_attributes(base_url, token, realm)
    query = urllib.parse.urlencode({"username": user["username"], "exact": "true"})
    found = _call("GET", f"{base}/users?{query}", token)
    if found:
        _call(
            "PUT",
            f"{base}/users/{found[0]['id']}",
            token,
            {**found[0], "attributes": user.get("attributes", {})},
        )
        return False
    roles = user.get("realmRoles", [])
    _call("POST", f"{base}/users", token, {k: v for k, v in user.items() if k != "realmRoles"})
    [created] = _call("GET", f"{base}/users?{query}", token)
    if roles:
        wanted = [_call("GET", f"{base}/roles/{urllib.parse.quote(r)}", token) for r in roles]
        _call("POST", f"{base}/users/{created['id']}/role-mappings/realm", token, wanted)
    return True


def delete_user(base_url: str, username: str, realm: str = REALM) -> None:
    token = admin_token(base_url)
    base = f"{base_url}/admin/realms/{realm}"
    query = urllib.parse.urlencode({"username": username, "exact": "true"})
    for found in _call("GET", f"{base}/users?{query}", token) or []:
        _call("DELETE", f"{base}/users/{found['id']}", token)
