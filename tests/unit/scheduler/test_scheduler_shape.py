"""The scheduler keeps its shape: domain/ pure, usecases/ without HTTP, SQL in store.py alone.

A small AST check (the repository-wide import-rule test may come to cover every service): it fails
when a domain module imports I/O, a use case imports FastAPI or shared.http (ApiError) or the
runtime, or a module other than store.py (or a store_<purpose>.py beside it, mixed into the
store: store_lifecycle.py) holds SQL.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[3] / "services" / "scheduler"
IO_MODULES = {
    "asyncpg",
    "aiokafka",
    "faststream",
    "fastapi",
    "httpx",
    "shared.db",
    "shared.outbox",
    "shared.service",
}
HTTP_MODULES = {"fastapi", "starlette", "shared.http", "shared.service"}
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.IGNORECASE | re.DOTALL
)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def banned(found: set[str], modules: set[str]) -> list[str]:
    return sorted(m for m in found if any(m == b or m.startswith(b + ".") for b in modules))


@pytest.mark.parametrize("path", sorted((SERVICE / "domain").glob("*.py")), ids=lambda p: p.name)
def test_domain_modules_do_no_io(path: Path) -> None:
    assert banned(imports(path), IO_MODULES) == []


@pytest.mark.parametrize("path", sorted((SERVICE / "usecases").glob("*.py")), ids=lambda p: p.name)
def test_use_cases_do_not_speak_http(path: Path) -> None:
    assert banned(imports(path), HTTP_MODULES) == []
    assert "ApiError" not in path.read_text()


@pytest.mark.parametrize(
    "path",
    sorted(
        p
        for p in SERVICE.rglob("*.py")
        if p.name != "store.py" and not (p.parent == SERVICE and p.name.startswith("store_"))
    ),
    ids=lambda p: str(p.relative_to(SERVICE)),
)
def test_sql_is_in_store_py_alone(path: Path) -> None:
    strings = [
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert [s for s in strings if SQL.search(s)] == []


def test_the_check_sees_sql_and_http_where_they_are() -> None:
    store = (SERVICE / "store.py").read_text()
    assert SQL.search(store)
    assert banned({"fastapi", "shared.http"}, HTTP_MODULES) == ["fastapi", "shared.http"]
