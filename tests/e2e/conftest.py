"""What the end-to-end tests share: free ports, a stack's configuration in its own namespace, and a
private Kafka broker for a run whose whole output is compared (on the shared broker the export
service of a fresh namespace also writes the files of every earlier run's schools)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.local.schools import School, local_run_calendar
from deploy.local.stack import DEFAULT_PORTS, StackConfig
from tests.private_infra import PrivateInfra, free_ports

__all__ = ["free_ports", "private_kafka", "stack_config"]


def stack_config(
    kafka: str, admin_database_url: str, root: Path, schools: list[School], seed: int = 0
) -> StackConfig:
    """A stack in a fresh namespace (schemas, roles, groups) on free ports, its files under ``root``,
    laid out as the main job's output (exports/ and logs/ inside it)."""
    from deploy.local.academie import livret_client

    root.mkdir(parents=True, exist_ok=True)
    return StackConfig(
        kafka_bootstrap_servers=kafka,
        admin_database_url=admin_database_url,
        log_dir=root / "logs",
        output_dir=root / "exports",
        ports=dict(zip(DEFAULT_PORTS, free_ports(len(DEFAULT_PORTS)), strict=True)),
        namespace=f"e2e{uuid.uuid4().hex[:6]}",
        sandbox_delay_seconds=0.5,
        sandbox_seed=seed,
        extra_env={
            "SCHEDULER_CALENDAR_FILE": str(local_run_calendar(root.parent / f"{root.name}-calendar.json"))
        },
        export_clients=[livret_client(schools)],
    )


@contextmanager
def private_kafka(state: Path) -> Iterator[str]:
    """A single-node broker of its own on free ports, state under ``state`` (its topics hold no
    earlier run's records), stopped on exit."""
    with PrivateInfra(state, with_postgres=False) as infra:
        yield infra.kafka_bootstrap_servers
