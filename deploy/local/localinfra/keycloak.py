"""A local Keycloak (OpenID Connect provider) from Maven Central: fetch, realm, start, wait, stop.

Same shape as the Kafka part: Maven downloads the server distribution once
(deploy/local/keycloak/pom.xml), it is unpacked under .local/keycloak, and `kc.sh start-dev` runs it
on 127.0.0.1 (dev mode: an H2 file store under .local, plain HTTP, no management port). Keycloak 26
needs Java 21+: CERTIBUS_KEYCLOAK_JAVA_HOME, else the newest JDK ≥ 21 under /usr/lib/jvm. The realm
is generated from CERTIBUS_KEYCLOAK_SCHOOLS (localinfra.realm) and imported at start; when the
schools change, the local store is wiped so the new realm is imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

from .config import HOST, KEYCLOAK_POM, KEYCLOAK_READY_TIMEOUT, REPO, Config, InfraError
from .processes import cmdline, ensure_dir, fmt_secs, pid_alive, port_in_use, read_pid, rotate
from .realm import REALM, realm_json

JVM_DIR = Path("/usr/lib/jvm")
MIN_JAVA = 21
STOP_TIMEOUT = 30.0
#: local bootstrap administrator (admin console on 127.0.0.1 only)
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-local"


def _java_major(home: Path) -> int | None:
    try:
        text = (home / "release").read_text()
    except OSError:
        return None
    m = re.search(r'^JAVA_VERSION="(\d+)', text, re.M)
    return int(m.group(1)) if m else None


def keycloak_java_home(cfg: Config) -> Path:
    """The JDK Keycloak runs on: the configured one, else the newest ≥ 21 under /usr/lib/jvm."""
    if cfg.keycloak_java_home:
        home = Path(cfg.keycloak_java_home)
        if not (home / "bin" / "java").exists():
            raise InfraError(f"CERTIBUS_KEYCLOAK_JAVA_HOME={home} has no bin/java")
        return home
    found = [
        (major, home)
        for home in (JVM_DIR.iterdir() if JVM_DIR.is_dir() else [])
        if (home / "bin" / "java").exists() and (major := _java_major(home)) and major >= MIN_JAVA
    ]
    if not found:
        raise InfraError(
            f"no JDK {MIN_JAVA}+ under {JVM_DIR}: Keycloak 26 needs one (set CERTIBUS_KEYCLOAK_JAVA_HOME)"
        )
    return max(found)[1]


def pom_digest() -> str:
    return hashlib.sha256(KEYCLOAK_POM.read_bytes()).hexdigest()


def keycloak_present(cfg: Config) -> bool:
    marker = cfg.keycloak_home / ".pom-sha256"
    ok = marker.exists() and marker.read_text().strip() == pom_digest()
    return ok and (cfg.keycloak_home / "bin" / "kc.sh").exists()


def keycloak_fetch(cfg: Config) -> float | None:
    """Download and unpack the distribution when missing (or the POM changed). Seconds spent."""
    if keycloak_present(cfg):
        return None
    mvn = shutil.which("mvn")
    if not mvn:
        raise InfraError("mvn not found: Maven is needed once to download Keycloak from Maven Central")
    start = time.monotonic()
    download = cfg.keycloak_dir / "download"
    shutil.rmtree(download, ignore_errors=True)
    log = ensure_dir(cfg.logs) / "maven-keycloak.log"
    cmd = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(KEYCLOAK_POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={download}",
    ]
    print(f"keycloak: downloading the server with Maven ({KEYCLOAK_POM.relative_to(REPO)}) ...", flush=True)
    with log.open("w") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, check=False)
    archives = sorted(download.glob("keycloak-quarkus-dist-*.tar.gz"))
    if result.returncode != 0 or not archives:
        raise InfraError(f"Maven could not download Keycloak (exit {result.returncode})", log)
    unpacked = cfg.keycloak_dir / "dist.tmp"
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(archives[0]) as archive:
        archive.extractall(unpacked, filter="tar")
    (top,) = [p for p in unpacked.iterdir() if p.is_dir()]
    (top / ".pom-sha256").write_text(pom_digest() + "\n")
    shutil.rmtree(cfg.keycloak_home, ignore_errors=True)
    top.replace(cfg.keycloak_home)
    shutil.rmtree(unpacked, ignore_errors=True)
    shutil.rmtree(download, ignore_errors=True)
    return time.monotonic() - start


def keycloak_version(cfg: Config) -> str:
    try:
        return (cfg.keycloak_home / "version.txt").read_text().split()[-1]
    except (OSError, IndexError):
        return "?"


def _realm_text(cfg: Config) -> str:
    return realm_json(list(cfg.keycloak_schools), cfg.uai_claim)


def _imported_realm(cfg: Config) -> Path:
    return cfg.keycloak_home / "data" / "import" / f"{REALM}-realm.json"


def realm_is_current(cfg: Config) -> bool:
    """The realm the server imported is the one these schools make (False: it must restart)."""
    imported = _imported_realm(cfg)
    return imported.exists() and imported.read_text() == _realm_text(cfg)


def write_realm(cfg: Config) -> None:
    """Put the generated realm where --import-realm reads it; a changed realm wipes the local store."""
    data = ensure_dir(cfg.keycloak_home / "data")
    text = _realm_text(cfg)
    imported = _imported_realm(cfg)
    if imported.exists() and imported.read_text() != text:
        shutil.rmtree(data / "h2", ignore_errors=True)  # import skips a realm that exists
    ensure_dir(imported.parent)
    imported.write_text(text)


def discovery_url(cfg: Config, port: int | None = None) -> str:
    return f"http://{HOST}:{port or cfg.keycloak_port}/realms/{REALM}/.well-known/openid-configuration"


def keycloak_ready(cfg: Config, port: int | None = None) -> bool:
    """The realm's discovery document answers (the realm was imported and the server serves it)."""
    try:
        with urllib.request.urlopen(discovery_url(cfg, port), timeout=2) as reply:
            return reply.status == 200 and "jwks_uri" in json.loads(reply.read())
    except (OSError, ValueError):
        return False


def keycloak_running_pid(cfg: Config) -> int | None:
    pid = read_pid(cfg.keycloak_pidfile)
    if pid is None or not pid_alive(pid):
        return None
    if not any(str(cfg.keycloak_home) in arg for arg in cmdline(pid)):
        return None  # pid reused by another process
    return pid


def keycloak_running_port(cfg: Config) -> int | None:
    pid = keycloak_running_pid(cfg)
    for arg in cmdline(pid) if pid else []:
        if arg.startswith("--http-port="):
            return int(arg.split("=", 1)[1])
    return None


def keycloak_up(cfg: Config) -> tuple[int, bool, dict[str, float]]:
    """Start Keycloak (or reuse the running one) and wait until the realm answers."""
    timings: dict[str, float] = {}
    pid = keycloak_running_pid(cfg)
    if pid is not None:
        port = keycloak_running_port(cfg)
        if port != cfg.keycloak_port:
            raise InfraError(
                f"Keycloak is already running (pid {pid}) on port {port}, not {cfg.keycloak_port}: "
                "run `infra.py down keycloak` first"
            )
        if realm_is_current(cfg):
            if not keycloak_ready(cfg):
                wait_ready(cfg, pid, time.monotonic())
            return pid, True, timings
        # other schools than the running server's realm (CERTIBUS_KEYCLOAK_SCHOOLS changed, or the
        # main job's académie): start it again on the new realm
        print(
            f"keycloak: the schools changed, restarting on the new realm ({keycloak_stop(cfg)})", flush=True
        )
    cfg.keycloak_pidfile.unlink(missing_ok=True)
    if port_in_use(cfg.keycloak_port):
        raise InfraError(
            f"port {HOST}:{cfg.keycloak_port} is already in use by another process: "
            "choose another with CERTIBUS_KEYCLOAK_PORT"
        )
    java_home = keycloak_java_home(cfg)
    spent = keycloak_fetch(cfg)
    if spent is not None:
        timings["download"] = spent
    write_realm(cfg)
    ensure_dir(cfg.logs)
    rotate(cfg.keycloak_log)
    env = {
        **os.environ,
        "JAVA_HOME": str(java_home),
        "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx512m",
        "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
        "KC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    cmd = [
        str(cfg.keycloak_home / "bin" / "kc.sh"),
        "start-dev",
        f"--http-host={HOST}",
        f"--http-port={cfg.keycloak_port}",
        "--import-realm",
        "--log-console-color=false",
    ]
    started = time.monotonic()
    with cfg.keycloak_log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cfg.keycloak_home,
            env=env,
            close_fds=True,
        )
    cfg.keycloak_pidfile.write_text(f"{proc.pid}\n")
    timings["start to ready"] = wait_ready(cfg, proc.pid, started)
    return proc.pid, False, timings


def wait_ready(cfg: Config, pid: int, started: float) -> float:
    while True:
        if keycloak_ready(cfg):
            return time.monotonic() - started
        if not pid_alive(pid):
            cfg.keycloak_pidfile.unlink(missing_ok=True)
            raise InfraError(f"Keycloak (pid {pid}) exited during start-up", cfg.keycloak_log)
        if time.monotonic() - started > KEYCLOAK_READY_TIMEOUT:
            raise InfraError(
                f"Keycloak (pid {pid}) did not serve {discovery_url(cfg)} within "
                f"{KEYCLOAK_READY_TIMEOUT:.0f} s (still running; `infra.py down keycloak` stops it)",
                cfg.keycloak_log,
            )
        time.sleep(1)


def keycloak_stop(cfg: Config) -> str:
    pid = keycloak_running_pid(cfg)
    if pid is None:
        if cfg.keycloak_pidfile.exists():
            cfg.keycloak_pidfile.unlink()
            return "not running (stale pid file removed)"
        return "not running"
    start = time.monotonic()
    os.killpg(pid, signal.SIGTERM)  # kc.sh and its JVM: the session start_new_session made
    while pid_alive(pid) and time.monotonic() - start < STOP_TIMEOUT:
        time.sleep(0.2)
    how = "SIGTERM"
    if pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
        how = f"SIGKILL after {STOP_TIMEOUT:.0f} s"
    cfg.keycloak_pidfile.unlink(missing_ok=True)
    return f"stopped pid {pid} ({how}, {fmt_secs(time.monotonic() - start)})"
