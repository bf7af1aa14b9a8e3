"""Per-service roles and schemas, and the migrations runner, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from shared.db import MigrationError, migrate, provision_service

pytestmark = pytest.mark.integration


async def _service(admin_dsn: str) -> tuple[str, str]:
    name = f"it_{uuid.uuid4().hex[:10]}"
    return name, await provision_service(admin_dsn, name, "pw-" + name)


async def test_a_service_role_cannot_read_or_write_another_services_schema(admin_dsn):
    (owner, owner_dsn), (other, other_dsn) = await _service(admin_dsn), await _service(admin_dsn)
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute("CREATE TABLE secrets (v text)")
        await conn.execute("INSERT INTO secrets VALUES ('owned')")
        assert await conn.fetchval("SELECT current_schema()") == owner
    finally:
        await conn.close()

    intruder = await asyncpg.connect(other_dsn)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intruder.fetch(f"SELECT * FROM {owner}.secrets")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intruder.execute(f"CREATE TABLE {owner}.planted (v text)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intruder.execute("CREATE TABLE public.planted (v text)")
        await intruder.execute("CREATE TABLE mine (v text)")  # its own schema works
        assert await intruder.fetchval("SELECT current_schema()") == other
    finally:
        await intruder.close()


async def test_provisioning_twice_is_harmless_and_rotates_the_password(admin_dsn):
    name = f"it_{uuid.uuid4().hex[:10]}"
    await provision_service(admin_dsn, name, "first")
    dsn = await provision_service(admin_dsn, name, "second")
    conn = await asyncpg.connect(dsn)
    await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(dsn.replace(":second@", ":first@"))


async def test_migrations_apply_in_order_once_and_record_their_versions(admin_dsn, tmp_path):
    name, dsn = await _service(admin_dsn)
    (tmp_path / "0001_init.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (tmp_path / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN label text;")
    conn = await asyncpg.connect(dsn)
    try:
        first = await migrate(conn, name, tmp_path)
        second = await migrate(conn, name, tmp_path)
        versions = [
            r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
        ]
        await conn.execute("INSERT INTO things (id, label) VALUES (1, 'ok')")
    finally:
        await conn.close()
    assert first == ["platform:0001_outbox_inbox", "service:0001_init", "service:0002_more"]
    assert second == []
    assert versions == first


async def test_concurrent_migrators_apply_each_file_exactly_once(admin_dsn, tmp_path):
    name, dsn = await _service(admin_dsn)
    (tmp_path / "0001_init.sql").write_text("CREATE TABLE counted (n int); INSERT INTO counted VALUES (1);")
    conns = [await asyncpg.connect(dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, name, tmp_path) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 0, 2]
        assert await conns[0].fetchval("SELECT count(*) FROM counted") == 1
    finally:
        for c in conns:
            await c.close()


async def test_an_edited_applied_migration_is_refused(admin_dsn, tmp_path):
    name, dsn = await _service(admin_dsn)
    script = tmp_path / "0001_init.sql"
    script.write_text("CREATE TABLE t (id int);")
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn, name, tmp_path)
        script.write_text("CREATE TABLE t (id bigint);")
        with pytest.raises(MigrationError, match="already applied"):
            await migrate(conn, name, tmp_path)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind(admin_dsn, tmp_path):
    name, dsn = await _service(admin_dsn)
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(dsn)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, name, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert (
            await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version LIKE 'service:%'") == 0
        )
    finally:
        await conn.close()
