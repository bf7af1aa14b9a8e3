"""The Phase 3 card: which steps a school reached, when, with which counts; its type, its rate,
the filters and the CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.academie.domain.card import DONE, STEPS, SchoolFacts, SessionFacts, current_step, steps
from services.academie.domain.csv_export import HEADER, render_csv
from services.academie.domain.schools import (
    SchoolFilter,
    progress,
    school_type,
    select,
    summarise,
)
from shared.errors import DomainError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def session(n: int, **facts) -> SessionFacts:
    return SessionFacts(session_id=f"S{n}", uai="0210001M", session_number=n, created_at=at(0), **facts)


def full(n: int, offset: float = 0) -> SessionFacts:
    """A session that went through every step, ``offset`` days later than the others."""
    return session(
        n,
        convoked_at=at(10 + offset),
        started_at=at(20 + offset),
        finalised_at=at(21 + offset),
        results_at=at(30 + offset),
        results=18,
        candidates=20,
    )


def reached(card) -> dict[str, datetime | None]:
    return {s.step: s.reached_at for s in card if s.reached}


def test_a_school_without_sessions_reached_nothing():
    card = steps([], None, 0)
    assert [s.step for s in card] == list(STEPS)
    assert not any(s.reached for s in card)
    assert current_step(card) == "planned"


def test_each_step_is_reached_when_every_session_is_and_at_the_last_ones_time():
    card = steps([full(1), full(2, offset=1)], livret_at=at(32), livrets=1)
    assert reached(card) == {
        "planned": at(0),
        "convoked": at(11),
        "held": at(21),
        "finalised": at(22),
        "results": at(31),
        "livret": at(32),
    }
    assert current_step(card) == DONE
    assert [s.count for s in card] == [2, 2, 2, 2, 2, 1]


def test_one_session_behind_holds_the_school_at_that_step():
    card = steps([full(1), session(2, convoked_at=at(10))], livret_at=None, livrets=0)
    assert current_step(card) == "held"
    assert {s.step: s.count for s in card}["held"] == 1
    assert reached(card)["convoked"] == at(10)


def test_cancelled_sessions_do_not_count_and_unknown_sessions_are_not_planned():
    cancelled = session(2, cancelled=True)
    seen_only_by_finalisation = SessionFacts("S3", "0210001M", started_at=at(20))
    card = steps([full(1), cancelled, seen_only_by_finalisation], at(40), 1)
    assert current_step(card) == DONE
    assert card[0].count == 1


def test_finalised_means_every_held_session_finalised():
    card = steps([full(1), session(2, convoked_at=at(1), started_at=at(20))], None, 0)
    finalised = {s.step: s for s in card}["finalised"]
    assert not finalised.reached and finalised.count == 1


def test_a_livret_older_than_the_last_results_is_not_ready():
    card = steps([full(1), full(2, offset=5)], livret_at=at(31), livrets=1)
    assert current_step(card) == "livret"


def test_results_wait_for_every_finalised_session():
    card = steps([full(1), session(2, convoked_at=at(1), started_at=at(2), finalised_at=at(3))], at(40), 1)
    assert current_step(card) == "results"


@pytest.mark.parametrize(
    ("mefs", "level", "expected"),
    [
        ({"10": 120}, "college", "college"),
        ({"20": 50, "24": 10}, "lycee", "lycee"),
        ({"24": 30, "50": 25, "32": 20}, "lycee", "lp"),
        ({}, "lycee", "lycee"),
        ({"": 40}, None, None),
        ({"24": 10, "20": 10}, "lycee", "lycee"),  # a tie goes to the general track, stably
    ],
)
def test_the_school_type_comes_from_the_mef_codes_then_the_sessions_track(mefs, level, expected):
    assert school_type(mefs, level) == expected


def facts(uai: str, name: str, sessions=(), **kw) -> SchoolFacts:
    return SchoolFacts(uai=uai, name=name, school_level="college", sessions=list(sessions), **kw)


SCHOOLS = [
    progress(facts("0210002N", "Collège Lamartine", [full(1)], livret_at=at(40), livrets=1)),
    progress(facts("0210001M", "Collège Colette", [session(1)], learners=4, certifiable=3, overdue=1)),
    progress(facts("0580003A", "Lycée Pasteur", mef_prefixes={"24": 5})),
]


def test_the_list_is_furthest_behind_first_and_filters_combine():
    assert [s.uai for s in select(SCHOOLS, SchoolFilter())] == ["0580003A", "0210001M", "0210002N"]
    assert [s.uai for s in select(SCHOOLS, SchoolFilter(step="convoked"))] == ["0210001M"]
    assert [s.uai for s in select(SCHOOLS, SchoolFilter(overdue=True))] == ["0210001M"]
    assert [s.uai for s in select(SCHOOLS, SchoolFilter(type="lp"))] == ["0580003A"]
    assert [s.uai for s in select(SCHOOLS, SchoolFilter(q="colette"))] == ["0210001M"]
    assert [s.uai for s in select(SCHOOLS, SchoolFilter(q="0580", type="college"))] == []


@pytest.mark.parametrize(("field", "value"), [("type", "lgt"), ("step", "started")])
def test_an_unknown_filter_value_is_refused_with_its_field(field, value):
    with pytest.raises(DomainError) as refused:
        SchoolFilter(**{field: value})
    assert refused.value.code == "filter.invalid" and refused.value.details["field"] == field


def test_the_summary_counts_schools_per_step_and_the_rate():
    summary = summarise(SCHOOLS)
    by_step = {s.step: s for s in summary.steps}
    assert (summary.schools, summary.done) == (3, 1)
    assert (by_step["planned"].reached, by_step["planned"].current) == (2, 1)
    assert (by_step["convoked"].reached, by_step["convoked"].current) == (1, 1)
    assert summary.certifiability_rate == 0.75 and summary.schools_overdue == 1


def test_the_csv_has_its_header_and_one_line_per_school_with_french_dates_and_decimals():
    lines = render_csv(select(SCHOOLS, SchoolFilter())).decode("utf-8").split("\r\n")
    assert lines[0] == ";".join(HEADER)
    assert lines[0].startswith("UAI;Nom;Type;Étape;Sessions;Candidats;")
    assert lines[-1] == "" and len(lines) == 5
    colette = lines[2].split(";")
    assert colette[:6] == ["0210001M", "Collège Colette", "collège", "convoqué", "1", "0"]
    assert colette[11] == "2026-03-02"  # planned on that day in France
    assert colette[-4:] == ["1", "4", "3", "0,7500"]
    assert lines[3].split(";")[16] == "2026-04-11"  # the livret, at(40), in France
