"""A PostgreSQL server from the distribution's binaries: install, initdb, start, provision, stop.

Run as root (CI, containers), the server runs as the `postgres` OS user in a directory it can own;
the admin role and database the tests and services expect are provisioned on every start.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from .config import (
    HOST,
    PG_ADMIN_ROLE,
    PG_BOOTSTRAP_SUPERUSER,
    PG_DATABASE,
    PG_MAX_CONNECTIONS,
    PG_OS_USER,
    PG_START_TIMEOUT,
    Config,
    InfraError,
)
from .processes import cmdline, ensure_dir, fmt_secs, is_root, pid_alive, port_in_use, rotate


def pg_bindir(required: bool = True) -> Path | None:
    override = os.environ.get("CERTIBUS_PG_BINDIR")
    candidates = [Path(override)] if override else []
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [p for p in versions if p.parent.name == "15"] + versions
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out:
            candidates.append(Path(out))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for cand in candidates:
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists() and (cand / "postgres").exists():
            return cand
    if required:
        raise InfraError(
            "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin, pg_config, PATH): "
            "install them with `apt-get install -y postgresql` or set CERTIBUS_PG_BINDIR"
        )
    return None


def pg_install(cfg: Config) -> float | None:
    if pg_bindir(required=False) is not None:
        return None
    if not is_root():
        pg_bindir()  # raises with the install hint
    if not shutil.which("apt-get"):
        raise InfraError(
            "PostgreSQL is missing and apt-get is not available: install PostgreSQL server by hand"
        )
    start = time.monotonic()
    log = ensure_dir(cfg.logs) / "postgres-install.log"
    print("postgres: binaries missing, running apt-get install -y postgresql ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("w") as out:
        for cmd in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "postgresql"],
        ):
            out.write("$ " + " ".join(cmd) + "\n")
            out.flush()
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
            if result.returncode != 0:
                raise InfraError(f"`{' '.join(cmd)}` failed (exit {result.returncode})", log)
    pg_bindir()
    return time.monotonic() - start


def pg_os_user_ids() -> tuple[int, int]:
    import pwd

    try:
        entry = pwd.getpwnam(PG_OS_USER)
    except KeyError:
        raise InfraError(
            f"running as root but there is no `{PG_OS_USER}` OS user to run PostgreSQL as "
            "(PostgreSQL refuses to run as root); install the postgresql package or run as a normal user"
        ) from None
    return entry.pw_uid, entry.pw_gid


def as_pg_user(cmd: list[str]) -> list[str]:
    """Wrap a command so it runs as the `postgres` OS user when we are root (PostgreSQL refuses root)."""
    if not is_root():
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", PG_OS_USER, "--", *cmd]
    if shutil.which("setpriv"):
        uid, gid = pg_os_user_ids()
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--", *cmd]
    return ["su", "-s", "/bin/sh", PG_OS_USER, "-c", " ".join(map(shlex_quote, cmd))]


def shlex_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def pg_root(cfg: Config) -> Path:
    """Where the data dir and the unix socket live: under the state dir unless it cannot be used.

    As root, the `postgres` OS user must traverse every parent of the data dir, and a unix socket path
    must stay under ~107 bytes; otherwise the server goes to /var/tmp/certibus-pg-<hash> (decided once,
    remembered in <state>/postgres/location).
    """
    marker = cfg.state / "postgres" / "location"
    if marker.exists():
        return Path(marker.read_text().strip())
    default = cfg.state / "postgres"
    relocated = Path("/var/tmp") / ("certibus-pg-" + hashlib.sha1(str(cfg.state).encode()).hexdigest()[:10])
    chosen = default
    if len(str(default / "run" / f".s.PGSQL.{cfg.pg_port}.lock")) > 100:
        chosen = relocated
    elif is_root():
        uid, gid = pg_os_user_ids()
        ensure_dir(default)
        probe = default / "data"
        created = not probe.exists()
        ensure_dir(probe)
        os.chown(probe, uid, gid)
        ok = subprocess.run(as_pg_user(["test", "-w", str(probe)]), check=False).returncode == 0
        if not ok:
            if created:
                probe.rmdir()
            chosen = relocated
    ensure_dir(marker.parent)
    marker.write_text(f"{chosen}\n")
    return chosen


def pg_paths(cfg: Config) -> tuple[Path, Path]:
    root = pg_root(cfg)
    return root / "data", root / "run"


def pg_prepare_dirs(data: Path, run: Path) -> None:
    for d in (data, run):
        ensure_dir(d)
        if is_root():
            uid, gid = pg_os_user_ids()
            os.chown(d, uid, gid)
        os.chmod(d, 0o700)


def pg_initdb(cfg: Config, bindir: Path, data: Path, run: Path) -> float | None:
    if (data / "PG_VERSION").exists():
        return None
    start = time.monotonic()
    if data.exists() and any(data.iterdir()):
        raise InfraError(
            f"{data} is not empty but has no PG_VERSION: remove it or run `infra.py reset postgres`"
        )
    pg_prepare_dirs(data, run)
    log = ensure_dir(cfg.logs) / "postgres-initdb.log"
    cmd = as_pg_user(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            PG_BOOTSTRAP_SUPERUSER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]
    )
    with log.open("w") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd="/", check=False)
    if result.returncode != 0:
        raise InfraError(f"initdb failed (exit {result.returncode})", log)
    conf = data / "postgresql.conf"
    with conf.open("a") as fh:
        fh.write("\n# certibus: local settings, rewritten by deploy/local/infra.py on every start\n")
        fh.write("include_if_exists = 'certibus.conf'\n")
    return time.monotonic() - start


def statement_statistics(bindir: Path | None) -> str:
    """``pg_stat_statements`` preloaded when the server has it (Debian's packages do), so that
    tests/benchmarks/bench_academie.py can say which statements the run's database time went to."""
    if bindir is None or not (bindir.parent / "lib" / "pg_stat_statements.so").exists():
        return ""
    return "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = top\n"


def pg_write_settings(cfg: Config, data: Path, run: Path) -> None:
    target = data / "certibus.conf"
    target.write_text(
        f"""\
# written by deploy/local/infra.py on every start
listen_addresses = '{HOST}'
port = {cfg.pg_port}
unix_socket_directories = '{run}'
max_connections = {PG_MAX_CONNECTIONS}
# local development/test data only: trade crash safety for speed
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
"""
        + statement_statistics(pg_bindir(required=False))
    )
    if is_root():
        uid, gid = pg_os_user_ids()
        os.chown(target, uid, gid)


def pg_postmaster(data: Path) -> dict[str, str] | None:
    """Parse postmaster.pid: pid, port, socket dir, listen address, status."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    keys = ["pid", "datadir", "start", "port", "socketdir", "listen", "shmem", "status"]
    return dict(zip(keys, (line.strip() for line in lines), strict=False))


def pg_running_pid(data: Path) -> int | None:
    info = pg_postmaster(data)
    if not info or not info.get("pid", "").isdigit():
        return None
    pid = int(info["pid"])
    if not pid_alive(pid):
        return None
    args = cmdline(pid)
    if not args or not (args[0].endswith("postgres") or args[0].endswith("postmaster")):
        return None
    return pid


def pg_is_ready(bindir: Path, port: int) -> bool:
    result = subprocess.run(
        [str(bindir / "pg_isready"), "-q", "-h", HOST, "-p", str(port), "-t", "2"], check=False
    )
    return result.returncode == 0


def psql(bindir: Path, run: Path, port: int, sql: str, db: str = "postgres") -> str:
    cmd = [
        str(bindir / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(run),
        "-p",
        str(port),
        "-U",
        PG_BOOTSTRAP_SUPERUSER,
        "-d",
        db,
        "-At",
    ]
    result = subprocess.run(cmd, input=sql, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InfraError(f"psql failed: {result.stderr.strip()}")
    return result.stdout


def pg_provision(cfg: Config, bindir: Path, run: Path) -> None:
    pw = cfg.pg_password.replace("'", "''")
    psql(
        bindir,
        run,
        cfg.pg_port,
        f"""
SELECT 'CREATE ROLE {PG_ADMIN_ROLE} LOGIN SUPERUSER'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{PG_ADMIN_ROLE}')\\gexec
ALTER ROLE {PG_ADMIN_ROLE} WITH LOGIN SUPERUSER PASSWORD '{pw}';
SELECT 'CREATE DATABASE {PG_DATABASE} OWNER {PG_ADMIN_ROLE}'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}')\\gexec
""",
    )


def pg_up(cfg: Config) -> tuple[int, bool, dict[str, float]]:
    timings: dict[str, float] = {}
    spent = pg_install(cfg)
    if spent is not None:
        timings["apt-get install"] = spent
    bindir = pg_bindir()
    assert bindir is not None
    data, run = pg_paths(cfg)
    pid = pg_running_pid(data)
    if pid is not None:
        port = int(pg_postmaster(data).get("port", "0") or 0)  # type: ignore[union-attr]
        if port != cfg.pg_port:
            raise InfraError(
                f"PostgreSQL is already running (pid {pid}) on port {port}, not {cfg.pg_port}: "
                "run `infra.py down` first"
            )
        if pg_is_ready(bindir, cfg.pg_port):
            pg_provision(cfg, bindir, run)
            return pid, True, timings
        raise InfraError(
            f"PostgreSQL (pid {pid}) is running but does not answer on {HOST}:{cfg.pg_port}", cfg.pg_log
        )
    if (data / "postmaster.pid").exists():
        print(f"postgres: removing stale {data / 'postmaster.pid'}", flush=True)
        (data / "postmaster.pid").unlink()
    if port_in_use(cfg.pg_port):
        raise InfraError(
            f"port {HOST}:{cfg.pg_port} is already in use by another process: "
            "choose another with CERTIBUS_PG_PORT"
        )
    spent = pg_initdb(cfg, bindir, data, run)
    if spent is not None:
        timings["initdb"] = spent
    pg_prepare_dirs(data, run)
    pg_write_settings(cfg, data, run)
    start = time.monotonic()
    ensure_dir(cfg.logs)
    rotate(cfg.pg_log)
    # the log file is opened here (by us) and inherited: the postgres OS user may not be able to open it
    with cfg.pg_log.open("ab") as out:
        cmd = as_pg_user(
            [str(bindir / "pg_ctl"), "start", "-w", "-t", str(PG_START_TIMEOUT), "-D", str(data)]
        )
        result = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd="/",
            start_new_session=True,
            check=False,
        )
    if result.returncode != 0:
        raise InfraError(f"pg_ctl start failed (exit {result.returncode})", cfg.pg_log)
    pid = pg_running_pid(data)
    if pid is None or not pg_is_ready(bindir, cfg.pg_port):
        raise InfraError(f"PostgreSQL started but does not answer on {HOST}:{cfg.pg_port}", cfg.pg_log)
    timings["start"] = time.monotonic() - start
    pg_provision(cfg, bindir, run)
    return pid, False, timings


def pg_stop(cfg: Config) -> str:
    marker = cfg.state / "postgres" / "location"
    if not marker.exists():
        return "not initialised"
    bindir = pg_bindir(required=False)
    data, _run = pg_paths(cfg)
    pid = pg_running_pid(data)
    if pid is None:
        if (data / "postmaster.pid").exists():
            (data / "postmaster.pid").unlink()
            return "not running (stale postmaster.pid removed)"
        return "not running"
    if bindir is None:
        raise InfraError(f"PostgreSQL (pid {pid}) is running but pg_ctl is not found to stop it")
    start = time.monotonic()
    cmd = as_pg_user([str(bindir / "pg_ctl"), "stop", "-m", "fast", "-w", "-t", "60", "-D", str(data)])
    result = subprocess.run(cmd, capture_output=True, text=True, cwd="/", check=False)
    if result.returncode != 0:
        raise InfraError(f"pg_ctl stop failed: {(result.stdout + result.stderr).strip()}", cfg.pg_log)
    return f"stopped pid {pid} (pg_ctl stop -m fast, {fmt_secs(time.monotonic() - start)})"
