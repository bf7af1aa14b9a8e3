"""The local stack supervises its processes (issue 11 item 4): a service or the Pix sandbox killed
with kill -9 is started again with backoff and answers /ready; stop() stops everything for good."""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import pytest

from deploy.local.stack import start_stack
from tests.e2e.conftest import stack_config

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/ready", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def _until(what: str, check, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def test_a_killed_service_and_sandbox_come_back_and_stop_stops_them_for_good(infrastructure, kafka, tmp_path):
    config = stack_config(kafka, infrastructure.admin_database_url, tmp_path / "stack", [])
    stack = start_stack(config)
    try:
        scheduler, sandbox = stack.processes["scheduler"], stack.processes["pix_sandbox"]
        os.kill(scheduler.pid, signal.SIGKILL)
        os.kill(sandbox.pid, signal.SIGKILL)
        _until("a new scheduler process", lambda: stack.processes["scheduler"].pid != scheduler.pid)
        _until("the restarted scheduler's /ready", lambda: _ready(config.url("scheduler")))
        _until("a new sandbox process", lambda: stack.processes["pix_sandbox"].pid != sandbox.pid)
        assert stack.processes["pix_sandbox"].poll() is None

        restarts = {r.name: r for r in stack.restarts}
        assert restarts["scheduler"].exit_code == -signal.SIGKILL and restarts["scheduler"].attempt == 1
        assert restarts["pix_sandbox"].exit_code == -signal.SIGKILL
        log = (config.log_dir / "supervisor.log").read_text(encoding="utf-8")
        assert f"scheduler (pid {scheduler.pid}) exited with code -9; restart attempt 1 in" in log

        # a process that keeps dying waits longer each time
        again = stack.processes["scheduler"]
        os.kill(again.pid, signal.SIGKILL)
        _until("the second restart", lambda: stack.processes["scheduler"].pid != again.pid)
        second = [r for r in stack.restarts if r.name == "scheduler"][-1]
        assert second.attempt == 2 and second.delay == 2 * restarts["scheduler"].delay
    finally:
        stack.stop()

    processes = list(stack.processes.values())
    assert all(p.poll() is not None for p in processes)
    time.sleep(2)  # the supervisor is gone: nothing comes back
    assert list(stack.processes.values()) == processes
    assert not any(_ready(config.url(s)) for s in config.ports)
