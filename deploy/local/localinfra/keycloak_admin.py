"""The local Keycloak's admin REST API: add a client to a realm that is already running.

A realm is imported only when Keycloak starts on an empty store (``infra.py up keycloak`` restarts a
server whose realm is not the current one), so the console's tests add its client here to a server
started before the client was in realm.py, without a restart that would interrupt whoever else uses
the provider. Local development values only.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from .keycloak import ADMIN_PASSWORD, ADMIN_USER
from .realm import REALM


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
