"""docs/operations.md cannot rot: every alert is explained, every command it shows exists, every
link and runbook section it points to is there."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml

from shared.cli import main as certibus

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "operations.md"
TEXT = DOC.read_text(encoding="utf-8")
ALERTS = yaml.safe_load((REPO / "deploy" / "observability" / "alerts.yml").read_text(encoding="utf-8"))


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a file's headings."""
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    }


def test_every_alert_has_its_line_in_the_alerts_table():
    table = TEXT.split("## Alerts", 1)[1]
    rules = [rule["alert"] for group in ALERTS["groups"] for rule in group["rules"]]
    missing = [name for name in rules if f"| `{name}` |" not in table]
    assert not missing, f"alerts docs/operations.md does not explain: {missing}"


def _command_paths() -> set[str]:
    # `certibus …` in a code span, at the start of a code line, or after kubectl exec … --
    return set(re.findall(r"(?:^|`|-- )certibus ([a-z]+(?: [a-z]+)?)", TEXT, flags=re.MULTILINE))


@pytest.mark.parametrize("words", sorted(_command_paths()))
def test_every_certibus_command_it_shows_exists(words: str):
    context = click.Context(certibus)
    first, *rest = words.split()
    command = certibus.get_command(context, first)
    assert command is not None, f"certibus {first}: no such command"
    if isinstance(command, click.Group) and rest:
        assert command.get_command(context, rest[0]) is not None, f"certibus {words}: no such command"


def test_every_link_and_anchor_resolves():
    links = re.findall(r"\]\(([^)]+)\)", TEXT)
    assert links
    for link in links:
        path, _, anchor = link.partition("#")
        target = (DOC.parent / path).resolve() if path else DOC
        assert target.exists(), f"{link}: no such file"
        if anchor:
            assert anchor in anchors(target.read_text(encoding="utf-8")), f"{link}: no such section"


def test_the_readme_operating_section_links_it():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Operating certibus", 1)[1].split("\n## ", 1)[0]
    assert "(docs/operations.md)" in section
