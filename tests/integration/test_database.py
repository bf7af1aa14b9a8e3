"""Per-service roles and schemas, and the migrations runner, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from shared.db import MigrationError, create_pool, migrate, provision_service

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


async def test_the_pool_skips_the_reset_round_trip_but_still_rolls_back_what_was_left_open(admin_dsn):
    name, dsn = await _service(admin_dsn)
    pool = await create_pool(dsn, name, max_size=1)
    sent: list[str] = []
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE notes (v text)")
            conn.add_query_logger(lambda record: sent.append(record.query))
            async with conn.transaction():
                await conn.execute("INSERT INTO notes VALUES ('kept')")
        assert not any("RESET ALL" in query or "advisory_unlock_all" in query for query in sent)

        async with pool.acquire() as conn:  # the one connection again, a transaction left open
            tx = conn.transaction()
            await tx.start()
            await conn.execute("INSERT INTO notes VALUES ('abandoned')")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_schema()") == name
            assert [r["v"] for r in await conn.fetch("SELECT v FROM notes")] == ["kept"]
    finally:
        await pool.close()


async def test_a_migration_whose_lock_cannot_be_released_does_not_return_its_connection(admin_dsn, tmp_path):
    """The pool does not reset released connections: one that may hold migrate's lock is dropped."""
    name, dsn = await _service(admin_dsn)
    (tmp_path / "0001_init.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    pool = await create_pool(dsn, name, max_size=1)
    try:
        async with pool.acquire() as conn:
            first_backend = conn.get_server_pid()

            class UnlockFails:
                """The pooled connection, whose unlock breaks as a dropped link would."""

                def __getattr__(self, name: str):
                    return getattr(conn, name)

                async def execute(self, query: str, *args):
                    if "pg_advisory_unlock" in query:
                        raise ConnectionResetError("the connection broke at the unlock")
                    return await conn.execute(query, *args)

            with pytest.raises(ConnectionResetError):
                await migrate(UnlockFails(), name, tmp_path)  # type: ignore[arg-type]
        async with pool.acquire() as conn:  # a new connection: the lock went with the old one
            assert conn.get_server_pid() != first_backend
            assert await asyncio.wait_for(migrate(conn, name, tmp_path), 10) == []
    finally:
        await pool.close()
