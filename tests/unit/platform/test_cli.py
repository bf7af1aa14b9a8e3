"""The ``certibus`` command without infrastructure: its commands, usage errors (exit 2), the digest's
canonical form, the topics report, and the console script the package installs."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import click
import pytest
from click.testing import CliRunner

from shared.cli import main
from shared.cli.digest import overall, row_line, rows_digest
from shared.cli.output import parse_since
from shared.cli.topics import describe_rows
from shared.contracts.topics import all_topics

COMMANDS = ["topics", "lag", "dlq", "rewind", "replay", "digest", "health"]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_every_command_is_listed_and_has_help_and_json():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
    leaves = [
        ["topics", "create"],
        ["topics", "describe"],
        ["lag"],
        ["dlq", "list"],
        ["dlq", "show"],
        ["dlq", "redrive"],
        ["rewind"],
        ["replay"],
        ["digest"],
        ["health"],
    ]
    for leaf in leaves:
        helped = invoke(*leaf, "--help")
        assert helped.exit_code == 0, leaf
        assert "--json" in helped.output, leaf


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["lag", "--service", "pix"], "'pix' is not one of"),
        (["digest", "nope"], "'nope' is not one of"),
        (["replay"], "Missing argument 'SERVICE'"),
        (["rewind", "--topic", "certibus.export"], "Missing option '--group'"),
        (["rewind", "--group", "g", "--topic", "t", "--since", "yesterday"], "not an ISO 8601 instant"),
        (["rewind", "--group", "g", "--topic", "t", "--since", "2027-03-01T00:00:00"], "has no zone"),
        (["replay", "export", "--since", "2027-13-01T00:00:00Z"], "not an ISO 8601 instant"),
        (["dlq", "show"], "Missing option '--event-id'"),
        (["dlq", "list", "--limit", "0"], "--limit"),
        (["topics", "delete"], "No such command 'delete'"),
    ],
)
def test_a_usage_error_exits_2_and_says_what_is_wrong(args, complaint):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert complaint in result.output


def test_since_takes_an_instant_with_its_zone():
    assert parse_since(None, None, "2027-03-01T00:00:00Z") == datetime(2027, 3, 1, tzinfo=UTC)
    paris = parse_since(None, None, "2027-03-01T01:00:00+01:00")
    assert paris == datetime(2027, 3, 1, tzinfo=UTC)
    assert parse_since(None, None, None) is None
    with pytest.raises(click.BadParameter):
        parse_since(None, None, "2027-03-01")


def test_the_digest_does_not_depend_on_row_order_or_time_zone_but_on_every_value():
    rows = [("a", 1, date(2027, 3, 1)), ("b", 2, None)]
    assert rows_digest(rows) == rows_digest(list(reversed(rows)))
    same_instant = [
        (datetime(2027, 3, 1, 9, tzinfo=UTC),),
        (datetime(2027, 3, 1, 10, tzinfo=timezone(timedelta(hours=1))),),
    ]
    assert row_line(same_instant[0]) == row_line(same_instant[1])
    assert rows_digest(rows) != rows_digest([("a", 1, date(2027, 3, 2)), ("b", 2, None)])
    assert rows_digest(rows) != rows_digest(rows[:1])
    assert rows_digest([(None,)]) != rows_digest([("",)])
    # jsonb keys in any order, numerics, uuids, arrays
    assert row_line(({"b": 1, "a": [1, None]},)) == row_line(({"a": [1, None], "b": 1},))
    assert row_line((Decimal("1.50"), UUID(int=1), [2, None])) == (
        '["1.50","00000000-0000-0000-0000-000000000001",[2,null]]'
    )


def test_the_overall_digest_covers_counts_and_table_hashes():
    tables = {"a": {"rows": 1, "sha256": "x"}, "b": {"rows": 0, "sha256": "y"}}
    assert overall(tables) == overall(dict(reversed(tables.items())))
    assert overall(tables) != overall({**tables, "b": {"rows": 1, "sha256": "y"}})
    assert overall(tables) != overall({**tables, "a": {"rows": 1, "sha256": "z"}})


def test_topics_describe_reports_missing_topics_and_what_the_brokers_have():
    specs = all_topics(6, 400, 3)
    found = {
        "certibus.scheduler": {
            "partitions": 12,
            "replication_factor": 3,
            "config": {"retention.ms": str(400 * 86_400_000), "cleanup.policy": "delete"},
        }
    }
    rows = {r["topic"]: r for r in describe_rows(specs, found)}
    assert rows["certibus.scheduler"]["exists"] and rows["certibus.scheduler"]["partitions"] == 12
    assert rows["certibus.scheduler"]["retention_ms"] == 400 * 86_400_000
    assert rows["certibus.scheduler"]["expected"] == {
        "partitions": 6,
        "replication_factor": 3,
        "retention_ms": 400 * 86_400_000,
        "cleanup_policy": "delete",
    }
    assert not rows["certibus.export.dlq"]["exists"] and rows["certibus.export.dlq"]["partitions"] is None
    assert len(rows) == len(specs)


def test_the_package_installs_the_certibus_console_script():
    """After the README's set-up (``pip install -e .`` into .venv) ``certibus`` is next to python."""
    script = Path(sys.executable).parent / "certibus"
    assert script.exists(), f"{script}: reinstall the package (source deploy/local/python-env.sh)"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert all(command in done.stdout for command in COMMANDS)
    alias = subprocess.run(
        [sys.executable, "-m", "shared.cli", "lag", "--service", "pix"], capture_output=True, text=True
    )
    assert alias.returncode == 2 and "'pix' is not one of" in alias.stderr
