"""Start the four services (and the Pix sandbox) as real processes on the local infrastructure.

Used by the main job (deploy/local/run-academie) and the end-to-end tests. Each service gets its
own Postgres role (provisioned here with the admin URL), its HTTP port, and a log file.

    .venv/bin/python -m deploy.local.stack up      # start, wait until every /ready answers 200
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from shared.contracts.topics import SERVICES
from shared.provision import provision_all

REPO = Path(__file__).resolve().parents[2]

#: the services' HTTP ports: CERTIBUS_HTTP_PORT_BASE (default 8001) and the next three, so two
#: stacks (e.g. two checkouts running the main job) can run side by side
HTTP_PORT_BASE = int(os.environ.get("CERTIBUS_HTTP_PORT_BASE", "8001"))
DEFAULT_PORTS = {
    service: HTTP_PORT_BASE + i
    for i, service in enumerate(("scheduler", "eligibility", "finalisation", "export"))
}


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
    #: the académie portal's token for every school API (API_TOKEN of each service)
    api_token: str = "local-school-api-token"
    #: the Pix side's token for the results intake (FINALISATION_API_TOKEN, the sandbox posts with it)
    finalisation_api_token: str = "local-finalisation-api-token"
    #: LSU/LSL API clients of the export service: [{"client_id", "secret", "uais"}]
    export_clients: list[dict] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


@dataclass
class Stack:
    config: StackConfig
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _service_env(config: StackConfig, service: str, dsn: str) -> dict[str, str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap_servers,
        "DATABASE_URL": dsn,
        "HTTP_PORT": str(config.ports[service]),
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "EXPORT_OUTPUT_DIR": str(config.output_dir),
        "EXPORT_API_CLIENTS": json.dumps(config.export_clients),
        "EXPORT_TOKEN_SECRET": "local-export-token-secret-at-least-32-bytes",
        "INVIGILATOR_TOKEN_SECRET": "local-invigilator-token-secret-at-least-32-bytes",
        "API_TOKEN": config.api_token,
        "FINALISATION_API_TOKEN": config.finalisation_api_token,
        **config.extra_env,
    }
    if config.namespace:
        env["DATABASE_SCHEMA"] = f"{config.namespace}_{service}"
        env["CONSUMER_GROUP_PREFIX"] = config.namespace
    return env


def _wait_ready(config: StackConfig, stack: Stack, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    waiting = set(stack.processes) - {"pix_sandbox"}
    while waiting and time.monotonic() < deadline:
        for service in sorted(waiting):
            proc = stack.processes[service]
            if proc.poll() is not None:
                log = (config.log_dir / f"{service}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{service} exited with {proc.returncode} while starting:\n{log}")
            try:
                with urllib.request.urlopen(config.url(service) + "/ready", timeout=2) as reply:
                    if reply.status == 200:
                        waiting.discard(service)
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
            log = open(config.log_dir / f"{service}.log", "ab")  # noqa: SIM115 (kept open for the child)
            stack.processes[service] = subprocess.Popen(
                [sys.executable, "-m", f"services.{service}"],
                cwd=REPO,
                env=_service_env(config, service, dsns[service]),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_ready(config, stack)
        if with_sandbox:
            log = open(config.log_dir / "pix_sandbox.log", "ab")  # noqa: SIM115
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
            stack.processes["pix_sandbox"] = subprocess.Popen(
                [sys.executable, "-m", "deploy.pix_sandbox"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    except BaseException:
        stack.stop()
        raise
    return stack
