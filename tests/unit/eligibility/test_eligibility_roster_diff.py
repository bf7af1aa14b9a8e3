from dataclasses import asdict, replace

from deploy.local.generator import generate_learners as generated_learners
from services.eligibility.domain.roster import RosterLearner, Sex
from services.eligibility.domain.roster_diff import ExistingLearner, FieldChange, diff_roster


def generate_learners(seed: int, count: int) -> list[RosterLearner]:
    """The driver's generated learners as the domain holds them once imported."""
    return [RosterLearner(**{**asdict(x), "sex": Sex(x.sex.value)}) for x in generated_learners(seed, count)]


def test_reimport_diff_registers_updates_moves_deactivates_and_reactivates():
    a, b, c, d, e, f = generate_learners(1, 6)
    existing = [
        ExistingLearner("id-a", a),
        ExistingLearner("id-b", b),
        ExistingLearner("id-c", c),
        ExistingLearner("id-d", d, active=False),
        ExistingLearner("id-e", e, active=False),
    ]
    moved_b = replace(b, division="3Z", usage_name="Martin")
    returning_d = replace(d, mef_code="10310019999")
    diff = diff_roster(existing, [a, moved_b, returning_d, e, f])

    assert diff.registered == (f,)
    assert diff.unchanged == ("id-a",)
    (update,) = diff.updated
    assert update.learner_id == "id-b" and update.class_move == (b.division, "3Z")
    assert set(update.changes) == {
        FieldChange("division", b.division, "3Z"),
        FieldChange("usage_name", b.usage_name, "Martin"),
    }
    assert [x.learner_id for x in diff.deactivated] == ["id-c"]
    assert [(x.learner_id, len(x.changes)) for x in diff.reactivated] == [("id-d", 1), ("id-e", 0)]
    assert diff.reactivated[0].class_move is None
    assert not diff.is_empty


def test_identical_reimport_is_empty_and_inactive_absent_learners_stay_untouched():
    a, b = generate_learners(2, 2)
    diff = diff_roster([ExistingLearner("1", a), ExistingLearner("2", b, active=False)], [a])
    assert diff.is_empty and diff.unchanged == ("1",)


def test_first_import_registers_everybody():
    learners = generate_learners(3, 50)
    diff = diff_roster([], learners)
    assert diff.registered == tuple(learners) and not diff.updated and not diff.deactivated
