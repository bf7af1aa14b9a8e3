"""The README's table of routes and roles is the services' own: every route, the roles it serves.

Each service's OpenAPI (the app create_app builds; nothing is started) lists its routes and, for a
school route, its roles (``x-certibus-roles``, set by shared.http's school routers). Every route
must have its line in the README's *Routes and roles* table, a school route with exactly its roles,
and the table must list no route the services do not serve.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from shared.contracts.topics import SERVICES
from shared.http import ROLES_EXTENSION
from shared.service import create_app

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| (\w+) \| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| ([^|]+) \|", re.M)
#: the README's lines: (service, method, path) → "who may call it"
TABLE = {(s, m, p): who.strip() for s, m, p, who in ROW.findall(README)}
OPERATIONS = {"/health", "/ready", "/metrics"}


def _operations(service: str) -> dict[tuple[str, str, str], dict]:
    definition = importlib.import_module(f"services.{service}.app").definition
    document = create_app(definition, definition.settings_class()).openapi()
    return {
        (service, method.upper(), path): operation
        for path, operations in document["paths"].items()
        if path not in OPERATIONS
        for method, operation in operations.items()
    }


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_is_in_the_readme_with_its_roles(service: str) -> None:
    served = _operations(service)
    missing = sorted(set(served) - set(TABLE))
    assert not missing, f"routes missing from the README's table of routes and roles: {missing}"
    stale = sorted(key for key in TABLE if key[0] == service and key not in served)
    assert not stale, f"README lines for routes {service} does not serve: {stale}"
    for key, operation in served.items():
        roles = operation.get(ROLES_EXTENSION)
        if roles is not None:
            assert TABLE[key] == ", ".join(f"`{r}`" for r in roles), key


def test_the_table_is_found() -> None:
    """The pattern reads the table (a reformatted README would otherwise pass vacuously)."""
    assert len(TABLE) >= 40
    assert TABLE[("finalisation", "PUT", "/sessions/{session_id}/finalisation")] == "`referent`"
