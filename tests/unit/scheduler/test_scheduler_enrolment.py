from datetime import date

import pytest

from services.scheduler.domain.enrolment import (
    Candidate,
    Learner,
    enrol_class,
    enrol_learners,
    normalise_name,
    set_extra_time,
)
from services.scheduler.domain.errors import DomainError

UAI = "0590001A"


def learner(i, *, division="3A", certifiable=True, school=UAI, first="Élodie", last=None, born=None):
    return Learner(
        f"l{i}", school, last or f"Nom{i}", first, born or date(2009, 1, 1 + i), division, certifiable
    )


def enrol(learners, existing=(), capacity=30, **kw):
    return enrol_learners(
        session_number=7,
        school_id=UAI,
        room_capacity=capacity,
        learners=learners,
        existing=list(existing),
        **kw,
    )


def test_enrol_class_takes_only_that_class():
    result = enrol_class(
        division="3A",
        session_number=7,
        school_id=UAI,
        room_capacity=30,
        existing=[],
        learners=[learner(1), learner(2, division="3B"), learner(3)],
    )
    assert [c.learner_id for c in result.enrolled] == ["l1", "l3"]
    assert all(c.session_number == 7 and c.division == "3A" for c in result.enrolled)


def test_learners_of_another_school_refuse_the_request():
    with pytest.raises(DomainError) as caught:
        enrol([learner(1), learner(2, school="0590002B")])
    assert caught.value.code == "enrolment.foreign_learner"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jean-Pierre", "jean pierre"),
        ("Éloïse", "ELOISE"),
        ("D’Œuf", "d'oeuf"),
        ("  Anne  Marie ", "annemarie"),
    ],
)
def test_name_normalisation(a, b):
    assert normalise_name(a) == normalise_name(b)


def test_duplicates_on_normalised_names_and_birthdate_are_skipped():
    existing = enrol([learner(1, first="Jean-Pierre", last="Le Gall")]).enrolled
    again = learner(9, first="JEAN PIERRE", last="legall", born=date(2009, 1, 2))
    other_birthdate = learner(10, first="Jean-Pierre", last="Le Gall", born=date(2009, 5, 5))
    result = enrol([again, again, other_birthdate], existing=existing)
    assert result.already_enrolled == ("l9", "l9")
    assert [c.learner_id for c in result.enrolled] == ["l10"]


def test_not_certifiable_is_refused_unless_overridden_with_a_reason():
    result = enrol([learner(1, certifiable=False), learner(2)])
    assert [c.learner_id for c in result.enrolled] == ["l2"]
    assert result.refused[0].code == "candidate.not_certifiable"
    overridden = enrol([learner(1, certifiable=False)], overrides={"l1": " profil vérifié le 12/03 "})
    assert overridden.enrolled[0].certifiability_override == "profil vérifié le 12/03"
    with pytest.raises(DomainError) as caught:
        enrol([learner(1, certifiable=False)], overrides={"l1": "  "})
    assert caught.value.code == "enrolment.override_reason_required"


def test_extra_time_is_a_whole_percentage():
    result = enrol([learner(1), learner(2)], extra_time={"l1": 33})
    assert result.enrolled[0].extra_time_percentage == 33
    assert result.enrolled[0].extra_time_ratio == pytest.approx(0.33)
    assert result.enrolled[1].extra_time_percentage == 0
    for bad in (-1, 1000, 33.5, True):
        with pytest.raises(DomainError) as caught:
            enrol([learner(1)], extra_time={"l1": bad})
        assert caught.value.code == "candidate.invalid_extra_time"
    assert set_extra_time(result.enrolled[1], 999).extra_time_percentage == 999


def test_room_capacity_is_respected_atomically():
    existing = [Candidate(f"e{i}", 7, f"E{i}", "X", date(2009, 1, 1), "3B") for i in range(25)]
    with pytest.raises(DomainError) as caught:
        enrol([learner(i) for i in range(6)], existing=existing)
    assert caught.value.code == "room.capacity_exceeded"
    assert caught.value.message == "la salle compte 30 postes : 25 inscrit(s) + 6 demandé(s)"
    assert len(enrol([learner(i) for i in range(5)], existing=existing).enrolled) == 5


def test_enrolment_keeps_one_invigilator_per_twenty_candidates():
    from services.scheduler.domain.enrolment import check_invigilators

    check_invigilators(20, 1)
    check_invigilators(0, 0)
    with pytest.raises(DomainError) as refused:
        check_invigilators(21, 1)
    assert refused.value.code == "session.invigilators_short"
    assert refused.value.details == {"candidates": 21, "needed": 2, "invigilators": 1}
