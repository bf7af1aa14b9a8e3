"""The académie table the main job prints at the end of a run: a line per step, with its counts."""

from __future__ import annotations

from rich.console import Console

from deploy.local.report import academie_table
from services.academie.api import summary_body
from services.academie.domain.card import SchoolFacts, SessionFacts
from services.academie.domain.schools import progress, summarise
from tests.unit.academie.test_card import at, full


def test_the_academie_table_has_a_line_per_step_with_the_summary_counts():
    schools = [
        progress(SchoolFacts("0210001M", "Collège Colette", "college", [full(1), full(2)], 40, 30, 0, {}, at(40), 1)),
        progress(SchoolFacts("0210002N", "Collège Lamartine", "college", [SessionFacts("S9", "0210002N", created_at=at(0))])),
    ]  # fmt: skip
    console = Console(width=120, record=True)
    console.print(academie_table(summary_body(summarise(schools))))
    text = console.export_text()
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") >= 4}
    assert [cell.strip() for cell in lines["planifié"].split("│")[2:5]] == ["2", "0", "3"]
    assert [cell.strip() for cell in lines["convoqué"].split("│")[2:5]] == ["1", "1", "2"]
    assert [cell.strip() for cell in lines["livret prêt"].split("│")[2:5]] == ["1", "0", ""]
    assert "2 schools, 3 sessions, 40 candidates" in text
    assert "certifiable 30 of 40 learners (75.0%)" in text
