"""The shape every service keeps (docs/writing-a-service.md), checked on the source, not by review.

- ``domain/`` is pure: it imports no I/O (database, broker, HTTP, asyncio) and no plumbing;
- ``usecases/`` never speak HTTP: no FastAPI/Starlette, no ``shared.http``, no ``ApiError``;
- SQL is written in ``store.py`` only (or a ``store_<purpose>.py`` beside it, and in migrations);
- a service imports no other service; ``shared/`` and ``deploy/`` import no service at all.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/app.py"))

IO_MODULES = ("asyncpg", "aiokafka", "faststream", "fastapi", "starlette", "httpx", "uvicorn", "asyncio")
PLUMBING = (
    "shared.db",
    "shared.outbox",
    "shared.consumer",
    "shared.service",
    "shared.http",
    "shared.kafka_admin",
)
HTTP_MODULES = ("fastapi", "starlette", "shared.http")
SQL = re.compile(r"^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\s*\()")


def _modules(folder: Path) -> Iterator[Path]:
    yield from sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # ``from shared import http``
                yield node.lineno, f"{node.module}.{alias.name}"


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def _offending_imports(folder: Path, prefixes: tuple[str, ...]) -> list[str]:
    """``file:line imports name`` for each import statement under ``folder`` within ``prefixes``."""
    found: dict[str, str] = {}
    for path in _modules(folder):
        for line, name in _imports(path):
            if _within(name, prefixes):
                found.setdefault(_where(path, line), name)
    return [f"{where} imports {name}" for where, name in found.items()]


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_no_io_and_no_plumbing(service: str) -> None:
    offences = _offending_imports(ROOT / "services" / service / "domain", IO_MODULES + PLUMBING)
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("service", SERVICES)
def test_use_cases_do_not_speak_http(service: str) -> None:
    folder = ROOT / "services" / service / "usecases"
    assert folder.is_dir(), f"services/{service}/usecases/ is where its use cases live"
    offences = _offending_imports(folder, HTTP_MODULES)
    offences += [
        f"{_where(path, node.lineno)} uses ApiError"
        for path in _modules(folder)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Name) and node.id == "ApiError"
    ]
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("service", SERVICES)
def test_sql_is_written_in_the_store_only(service: str) -> None:
    offences = [
        f"{_where(path, node.lineno)}: {node.value.strip()[:40]!r}"
        for path in _modules(ROOT / "services" / service)
        if not (path.name == "store.py" or (path.name.startswith("store_") and path.parent.name == service))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value)
    ]
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = tuple(f"services.{s}" for s in SERVICES if s != service)
    offences = _offending_imports(ROOT / "services" / service, others)
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("top", ["shared", "deploy"])
def test_shared_and_deploy_import_no_service(top: str) -> None:
    offences = _offending_imports(ROOT / top, ("services",))
    assert not offences, "\n".join(offences)


def test_the_rules_would_catch_an_offence(tmp_path: Path) -> None:
    """The checks above are not vacuous: each one finds the offence it is written for."""
    bad = tmp_path / "bad.py"
    bad.write_text('import asyncpg\nfrom shared.http import ApiError\nQ = """SELECT 1 FROM t"""\n')
    names = [name for _, name in _imports(bad)]
    assert _within(names[0], IO_MODULES) and _within(names[1], HTTP_MODULES)
    assert SQL.match("SELECT 1 FROM t") and not SQL.match("Select a session to update")
