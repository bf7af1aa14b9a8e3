"""Start the services (and the Pix sandbox) as real processes on the local infrastructure, and
keep them running.

Used by the main job (deploy/local/run-academie) and the end-to-end tests. Each service gets its
own Postgres role (provisioned here with the admin URL), its HTTP port, and a log file. Once all are
ready a supervisor thread watches them as systemd or Kubernetes would: a process that exits (a crash,
a kill -9) is started again after an exponential backoff (``RestartPolicy``), each restart logged to
stderr and ``supervisor.log`` (which process, exit code, attempt, delay); ``Stack.stop()`` stops the
supervisor first, then every process, for good.

    .venv/bin/python -m deploy.local.stack up      # start, wait until every /ready answers 200

With ``StackConfig.replicas`` above 1 each service runs as that many processes (``scheduler``,
``scheduler-2``…): the same schema and consumer groups, each its own HTTP port; Kafka splits the
partitions between them and one holds the outbox relay's advisory lock, as replicas in production.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from shared.contracts.topics import SERVICES
from shared.provision import provision_all

REPO = Path(__file__).resolve().parents[2]

#: the services' HTTP ports: CERTIBUS_HTTP_PORT_BASE (default 8001) and the next four (scheduler,
#: eligibility, finalisation, export, academie: base+0 … base+4, in SERVICES order), then the
#: console (base+5, 8006), so two stacks (e.g. two checkouts running the main job) can run side by side
HTTP_PORT_BASE = int(os.environ.get("CERTIBUS_HTTP_PORT_BASE", "8001"))
CONSOLE = "console"
DEFAULT_PORTS = {service: HTTP_PORT_BASE + i for i, service in enumerate((*SERVICES, CONSOLE))}


@dataclass
class StackConfig:
    kafka_bootstrap_servers: str
    admin_database_url: str
    log_dir: Path
    output_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    #: prefix for schemas/roles and consumer groups, so a test stack never meets the real one
    namespace: str | None = None
    sandbox_delay_seconds: float = 1.0
    #: the run's seed, from which the Pix sandbox derives every result (PIX_SANDBOX_SEED)
    sandbox_seed: int = 0
    #: the trusted gateway's token for every school API (API_TOKEN of each service; None: unset)
    api_token: str | None = "local-school-api-token"
    #: the OpenID Connect provider whose tokens open the school APIs (OIDC_ISSUER; None: unset); set,
    #: the console is started too (port ``ports["console"]``), signing people in there
    oidc_issuer: str | None = None
    #: the Pix side's token for the results intake (FINALISATION_API_TOKEN, the sandbox posts with it)
    finalisation_api_token: str = "local-finalisation-api-token"
    #: LSU/LSL API clients of the export service: [{"client_id", "secret", "uais"}]
    export_clients: list[dict] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    #: processes of each service: the same consumer groups and schema, each its own HTTP port
    #: (Kafka splits the partitions between them; one holds the outbox relay's lock)
    replicas: int = 1
    #: HTTP ports of replicas 2, 3… per service; by default the first replica's port + 10 × (k - 1)
    replica_ports: dict[str, list[int]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        """The first replica's URL (the one the driver talks to)."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def replica_names(self, service: str) -> list[str]:
        """Process names of the service's replicas: ``scheduler``, ``scheduler-2``…"""
        return [service] + [f"{service}-{k}" for k in range(2, self.replicas + 1)]

    def port_of(self, name: str) -> int:
        """HTTP port of a replica by its process name."""
        service, _, k = name.partition("-")
        if not k:
            return self.ports[service]
        index = int(k) - 2
        given = self.replica_ports.get(service, [])
        return given[index] if index < len(given) else self.ports[service] + 10 * (index + 1)

    def url_of(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port_of(name)}"


@dataclass(frozen=True)
class RestartPolicy:
    """When to start an exited process again: ``first_delay`` doubled at each attempt up to
    ``max_delay``; a process that stayed up ``stable_after`` seconds starts the count over."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    stable_after: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.first_delay * 2 ** (attempt - 1))


@dataclass(frozen=True)
class ProcessSpec:
    """How to (re)start one process of the stack."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path

    def spawn(self) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)


@dataclass(frozen=True)
class Restart:
    """One restart the supervisor made (kept for the run's report and the tests)."""

    name: str
    exit_code: int | None
    attempt: int
    delay: float


@dataclass
class Stack:
    config: StackConfig
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    specs: dict[str, ProcessSpec] = field(default_factory=dict)
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    restarts: list[Restart] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None
        self._started_at: dict[str, float] = {}
        #: name → monotonic time before which the supervisor does not start it again (``kill``)
        self._held_until: dict[str, float] = {}

    def start(self, spec: ProcessSpec) -> subprocess.Popen:
        """Start one process (first time or again) and remember how, for the supervisor."""
        with self._lock:
            self.specs[spec.name] = spec
            self.processes[spec.name] = process = spec.spawn()
            self._started_at[spec.name] = time.monotonic()
        return process

    def started_at(self, name: str) -> float:
        """When (monotonic) the process now running under ``name`` was started."""
        with self._lock:
            return self._started_at[name]

    def supervise(self) -> None:
        """Start the supervisor thread: from now on an exited process is started again."""
        if self._supervisor is None:
            self._supervisor = threading.Thread(target=self._watch, name="stack-supervisor", daemon=True)
            self._supervisor.start()

    def _log(self, line: str) -> None:
        stamped = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} supervisor: {line}"
        print(stamped, file=sys.stderr, flush=True)
        with open(self.config.log_dir / "supervisor.log", "a", encoding="utf-8") as log:
            log.write(stamped + "\n")

    def _watch(self) -> None:
        attempts: dict[str, int] = {}
        due: dict[str, float] = {}  # name → when to start it again
        while not self._stopping.wait(0.2):
            now = time.monotonic()
            for name, process in list(self.processes.items()):
                if name in due or process.poll() is None:
                    continue
                stable = now - self._started_at.get(name, now) >= self.policy.stable_after
                attempts[name] = 1 if stable else attempts.get(name, 0) + 1
                delay = max(self.policy.delay(attempts[name]), self._held_until.pop(name, now) - now)
                due[name] = now + delay
                self.restarts.append(Restart(name, process.returncode, attempts[name], delay))
                self._log(
                    f"{name} (pid {process.pid}) exited with code {process.returncode};"
                    f" restart attempt {attempts[name]} in {delay:.1f}s"
                )
            for name, when in list(due.items()):
                if when <= now and not self._stopping.is_set():
                    del due[name]
                    process = self.start(self.specs[name])
                    self._log(f"{name} restarted (pid {process.pid}, attempt {attempts[name]})")

    def kill(self, name: str, down_for: float = 0.0) -> int:
        """kill -9 one process, as a crash would; the supervisor starts it again no sooner than
        ``down_for`` seconds later (a node that takes a while to come back). Returns its pid."""
        with self._lock:
            process = self.processes[name]
            self._held_until[name] = time.monotonic() + down_for
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        return process.pid

    def stop(self) -> None:
        """Stop the supervisor, then every process (SIGTERM, SIGKILL after 15 s): for good."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        with self._lock:
            processes = list(self.processes.values())
        for proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _service_env(config: StackConfig, service: str, dsn: str, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap_servers,
        "DATABASE_URL": dsn,
        "HTTP_PORT": str(port),
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "EXPORT_OUTPUT_DIR": str(config.output_dir),
        "EXPORT_API_CLIENTS": json.dumps(config.export_clients),
        "EXPORT_TOKEN_SECRET": "local-export-token-secret-at-least-32-bytes",
        "INVIGILATOR_TOKEN_SECRET": "local-invigilator-token-secret-at-least-32-bytes",
        "INVIGILATOR_PASSWORD_KEY": "local-invigilator-password-key-at-least-32-bytes",
        "FINALISATION_API_TOKEN": config.finalisation_api_token,
        **({"API_TOKEN": config.api_token} if config.api_token else {}),
        **({"OIDC_ISSUER": config.oidc_issuer} if config.oidc_issuer else {}),
        **config.extra_env,
    }
    if config.namespace:
        env["DATABASE_SCHEMA"] = f"{config.namespace}_{service}"
        env["CONSUMER_GROUP_PREFIX"] = config.namespace
    return env


def _console_env(config: StackConfig) -> dict[str, str]:
    """The console on its port, reading the stack's services, signing in at the stack's provider."""
    url = config.url(CONSOLE)
    return {
        **os.environ,
        "HTTP_PORT": str(config.ports[CONSOLE]),
        "OIDC_ISSUER": str(config.oidc_issuer),
        "CONSOLE_PUBLIC_URL": url,
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        **{
            f"{s.upper()}_URL": config.url(s)
            for s in ("scheduler", "eligibility", "finalisation", "export", "academie")
        },
    }


def _wait_ready(config: StackConfig, stack: Stack, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    waiting = set(stack.processes) - {"pix_sandbox"}
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            proc = stack.processes[name]
            if proc.poll() is not None:
                log = (config.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode} while starting:\n{log}")
            try:
                with urllib.request.urlopen(config.url_of(name) + "/ready", timeout=2) as reply:
                    if reply.status == 200:
                        waiting.discard(name)
            except OSError:
                pass
        time.sleep(0.3)
    if waiting:
        raise RuntimeError(f"not ready after {seconds}s: {sorted(waiting)} (logs in {config.log_dir})")


def start_stack(config: StackConfig, with_sandbox: bool = True) -> Stack:
    """Provision roles, start every service and the sandbox, return once all answer /ready."""
    config.log_dir.mkdir(parents=True, exist_ok=True)
    config.output_dir.mkdir(parents=True, exist_ok=True)
    if config.namespace:
        names = [f"{config.namespace}_{s}" for s in SERVICES]
        dsns = dict(
            zip(SERVICES, asyncio.run(provision_all(config.admin_database_url, names)).values(), strict=True)
        )
    else:
        dsns = asyncio.run(provision_all(config.admin_database_url, list(SERVICES)))
    stack = Stack(config)
    try:
        for service in SERVICES:
            for name in config.replica_names(service):
                stack.start(
                    ProcessSpec(
                        name,
                        [sys.executable, "-m", f"services.{service}"],
                        _service_env(config, service, dsns[service], config.port_of(name)),
                        config.log_dir / f"{name}.log",
                    )
                )
        if config.oidc_issuer and CONSOLE in config.ports:
            stack.start(
                ProcessSpec(
                    CONSOLE,
                    [sys.executable, "-m", "services.console"],
                    _console_env(config),
                    config.log_dir / "console.log",
                )
            )
        _wait_ready(config, stack, 90 * config.replicas)  # replicas start side by side
        if with_sandbox:
            env = {
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap_servers,
                "FINALISATION_URL": config.url("finalisation"),
                "PIX_SANDBOX_DELAY_SECONDS": str(config.sandbox_delay_seconds),
                "PIX_SANDBOX_SEED": str(config.sandbox_seed),
                "FINALISATION_API_TOKEN": config.finalisation_api_token,
                "PYTHONUNBUFFERED": "1",
                **({"PIX_SANDBOX_GROUP_ID": f"{config.namespace}.pix-sandbox"} if config.namespace else {}),
            }
            stack.start(
                ProcessSpec(
                    "pix_sandbox",
                    [sys.executable, "-m", "deploy.pix_sandbox"],
                    env,
                    config.log_dir / "pix_sandbox.log",
                )
            )
        stack.supervise()
    except BaseException:
        stack.stop()
        raise
    return stack
