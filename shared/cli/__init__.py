"""``certibus``: the operators' command (topics, lag, dead letters, rewinds, replays, digests, health).

Installed by the package as a console script (``[project.scripts]``); ``python -m shared.cli`` is the
same. It reads the services' own environment variables (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL,
CONSUMER_GROUP_PREFIX, …) and the services' URLs (shared.settings.OperatorSettings). Every command
has ``--json``; exit codes are 0 ok, 1 a problem found, 2 a usage error (shared/cli/output.py).
"""

from __future__ import annotations

import click

from shared.cli.digest import digest
from shared.cli.dlq import dlq
from shared.cli.health import health
from shared.cli.lag import lag, rewind
from shared.cli.replay import replay_command as replay
from shared.cli.topics import topics


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Operate certibus: topics, consumer lag, dead letters, rewinds, replays, digests, health."""


for command in (topics, lag, dlq, rewind, replay, digest, health):
    main.add_command(command)
