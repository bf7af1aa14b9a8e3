"""Postgres plumbing: one role and one schema per service, plain-SQL migrations, connection pools.

Each service connects as ``certibus_<service>``, which owns schema ``<service>`` and has no right
on any other schema. Migrations are plain ``NNNN_name.sql`` files applied in order under an
advisory lock, recorded in ``<schema>.schema_migrations`` with a checksum so an edited,
already-applied file is caught instead of silently diverging.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import structlog

log = structlog.get_logger(__name__)

PLATFORM_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class MigrationError(RuntimeError):
    """A migration file is malformed, or an applied one was changed after the fact."""


def role_for(service: str) -> str:
    return f"certibus_{service}"


def schema_for(service: str) -> str:
    return service


def dsn_with_credentials(dsn: str, user: str, password: str) -> str:
    """The same server and database as ``dsn``, with other credentials."""
    parts = urlsplit(dsn)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user)}:{quote(password)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _ident(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


async def provision_service(admin_dsn: str, service: str, password: str) -> str:
    """Create (idempotently) the service's role and schema; return the service's own DSN.

    The role owns its schema and gets nothing else: PostgreSQL 15 already revokes CREATE on
    ``public`` from everyone, and without USAGE on the other services' schemas it cannot read them.
    """
    role, schema = _ident(role_for(service)), _ident(schema_for(service))
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext('certibus.provision'))")
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if exists else "CREATE"
            # Passwords cannot be bound parameters in utility statements; quote them as literals.
            literal = await conn.fetchval("SELECT quote_literal($1)", password)
            await conn.execute(f"{verb} ROLE {role} LOGIN PASSWORD {literal}")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
            await conn.execute(f"ALTER ROLE {role} SET search_path = {schema}")
            await conn.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('certibus.provision'))")
    finally:
        await conn.close()
    return dsn_with_credentials(admin_dsn, role, password)


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path, namespace: str) -> list[Migration]:
    """``NNNN_name.sql`` files of a folder, in order; anything else ending in .sql is an error."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        if not _MIGRATION_NAME.match(path.name):
            raise MigrationError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        found.append(Migration(f"{namespace}:{path.stem}", path))
    numbers = [m.path.name[:4] for m in found]
    if len(set(numbers)) != len(numbers):
        raise MigrationError(f"{directory}: two migrations share a number")
    return found


async def migrate(conn: asyncpg.Connection, schema: str, service_migrations: Path | None) -> list[str]:
    """Apply the platform's then the service's pending migrations to ``schema``; return what ran."""
    schema = _ident(schema)
    migrations = discover(PLATFORM_MIGRATIONS, "platform")
    if service_migrations is not None:
        migrations += discover(service_migrations, "service")
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock(hashtext('certibus.migrate.' || $1))", schema)
    try:
        await conn.execute(f"SET search_path = {schema}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = dict(await conn.fetch("SELECT version, checksum FROM schema_migrations"))
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{migration.path}: already applied to schema {schema} with another content;"
                        " write a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                    migration.version,
                    migration.checksum,
                )
            applied_now.append(migration.version)
            log.info("migration applied", schema=schema, version=migration.version)
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('certibus.migrate.' || $1))", schema)
        except BaseException:
            # a pooled connection is not reset on release (create_pool): one that may still hold
            # the session-level lock must not go back to the pool, or the next migrate would wait
            conn.terminate()
            raise
    return applied_now


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond what asyncpg always does (see create_pool)."""


async def create_pool(dsn: str, schema: str, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections see ``schema`` first, with JSON codecs for json/jsonb.

    On release asyncpg still rolls back an open transaction and drops listeners, but skips its
    ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` round trip, one per transaction
    (≈ 0.1 ms of client CPU and a server round trip each: issue 10). That holds because pooled
    connections keep no session state: settings are ``SET LOCAL`` or transaction-scoped advisory
    locks, ``search_path`` is the pool's own start-up setting, the relay's LISTEN and lock live on a
    connection of its own, and ``migrate`` drops its connection if its session lock may remain.
    Code that sets session state on a pooled connection must undo it before release.
    """

    async def init(conn: asyncpg.Connection) -> None:
        import json

        for kind in ("json", "jsonb"):
            await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        init=init,
        reset=_keep_session,
        server_settings={"search_path": _ident(schema), "application_name": f"certibus-{schema}"},
    )
    assert pool is not None
    return pool
