"""The driver is a client of certibus: nothing under deploy/ imports a service's code.

deploy/ may use shared/ (contracts, provisioning) and start `python -m services.<name>` processes,
but an `import services…` would couple the main job to a service's internals (issue 15 item 4).
The lead folds this into the wider import-rule test.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def service_imports(source: str) -> list[str]:
    """Modules under services/ that this source imports (absolute imports only: deploy has no
    relative path into services/)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "services"]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "services"
        ):
            found.append(node.module)
    return found


def test_the_rule_sees_every_form_of_import():
    assert service_imports("import services.scheduler.domain.calendar") == [
        "services.scheduler.domain.calendar"
    ]
    assert service_imports("from services.eligibility.domain import samples") == [
        "services.eligibility.domain"
    ]
    assert service_imports("def f():\n    from services import scheduler") == ["services"]
    assert service_imports("import shared.contracts\nfrom deploy.local import stack\nimport servicesx") == []


def test_nothing_under_deploy_imports_services():
    offenders = {
        str(path.relative_to(REPO)): imports
        for path in sorted((REPO / "deploy").rglob("*.py"))
        if (imports := service_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
