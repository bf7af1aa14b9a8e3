"""The académies the main job generates: sizes, kinds of school, certifying classes, determinism."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from deploy.local.schools import SCALES, local_run_calendar, school_body, schools_for
from shared.contracts.identifiers import is_valid_ine, is_valid_uai


def test_the_college_scale_has_every_kind_of_school_and_about_5000_students() -> None:
    schools = schools_for("college", seed=7)
    assert len(schools) == SCALES["college"].schools == 20
    students = sum(len(s.learners) for s in schools)
    assert 4_000 <= students <= 6_000
    assert Counter(s.kind for s in schools).keys() == {"college", "lycee", "lycee_pro"}
    assert len({s.uai for s in schools}) == len(schools) and all(is_valid_uai(s.uai) for s in schools)
    assert all(is_valid_ine(lrn.ine) for s in schools for lrn in s.learners)


@pytest.mark.parametrize(
    ("kind", "prefixes"), [("college", {"3"}), ("lycee", {"T"}), ("lycee_pro", {"TPRO", "2CAP", "BTS2"})]
)
def test_each_kind_certifies_its_own_classes(kind: str, prefixes: set[str]) -> None:
    schools = [s for s in schools_for("college", seed=7) if s.kind == kind]
    assert schools
    for school in schools:
        assert all(any(d.startswith(p) for p in prefixes) for d in school.divisions), school.divisions


def test_rooms_and_staff_grow_with_the_school() -> None:
    schools = sorted(schools_for("college", seed=7), key=lambda s: len(s.learners))
    small, large = school_body(schools[0]), school_body(schools[-1])
    assert len(large["rooms"]) >= len(small["rooms"])
    assert len(large["staff"]) >= 2 * len(large["rooms"])


def test_the_same_seed_gives_the_same_academie_and_another_seed_another() -> None:
    def fingerprint(seed: int) -> list[tuple]:
        return [
            (s.uai, s.name, s.kind, tuple(lrn.ine for lrn in s.learners))
            for s in schools_for("college", seed)
        ]

    assert fingerprint(11) == fingerprint(11)
    assert fingerprint(11) != fingerprint(12)


@pytest.mark.parametrize("scale", ["demo", "college"])
def test_every_third_school_sends_pix_orga_certificability_instead_of_a_campaign(scale) -> None:
    schools = schools_for(scale, seed=2027)
    assert [s.orga_certificability for s in schools] == [i % 3 == 1 for i in range(len(schools))]
    assert [s.orga_certificability for s in schools] == [
        s.orga_certificability for s in schools_for(scale, 2027)
    ]


def test_the_demo_scale_keeps_its_few_schools_and_students_per_school() -> None:
    schools = schools_for("demo", seed=2027)
    assert len(schools) == 3 and all(len(s.learners) == 60 for s in schools)
    assert len(schools_for("demo", seed=2027, schools=2, students=30)) == 2


@pytest.mark.parametrize("scale", ["demo", "college"])
def test_every_generated_learner_is_in_a_certifying_class_by_its_mef(scale):
    from services.scheduler.domain.mef import Certifying, classify

    schools = schools_for(scale, 7, None, None)
    levels = {learner.mef_code: classify(learner.mef_code) for s in schools for learner in s.learners}
    assert {code: lv.certifying for code, lv in levels.items()} == dict.fromkeys(levels, Certifying.YES)


def test_the_local_run_opens_pix_certif_on_its_day_in_its_own_valid_copy(tmp_path):
    from services.scheduler.domain.calendar import CALENDAR_FILE, CertificationCalendar, Track

    path = local_run_calendar(tmp_path / "calendar.json", date(2026, 12, 4))
    copy, packaged = CertificationCalendar.load(path), CertificationCalendar.load(CALENDAR_FILE)
    college = copy.for_level("2026-2027", Track.COLLEGE)
    assert (college.pix_certif_opening, college.opening_estimated) == (date(2026, 12, 4), False)
    assert "opened early for the local run" in college.source
    # an opening already past is kept, and the windows are the packaged ones
    assert copy.for_level("2026-2027", Track.LYCEE) == packaged.for_level("2026-2027", Track.LYCEE)
    assert college.window == packaged.for_level("2026-2027", Track.COLLEGE).window
