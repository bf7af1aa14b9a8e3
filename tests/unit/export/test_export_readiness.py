from services.export.domain.readiness import BlockerKind, class_readiness
from services.export.domain.records import ResultStatus
from services.export.domain.selection import ExportIndex

UAI = "0751234A"


def test_class_where_everyone_has_a_published_result_and_an_ine_is_ready(make):
    learners = [make.learner(k) for k in "ab"]
    never_enrolled_leaver = make.learner("c", active=False)
    candidates = [make.candidate(learner) for learner in learners]
    results = [make.result(c, i) for i, c in enumerate(candidates)]
    readiness = class_readiness(
        ExportIndex([*learners, never_enrolled_leaver], candidates, results), UAI, "3a"
    )
    assert readiness.ready
    assert readiness.active_learners == 2
    assert readiness.blockers == ()


def test_every_blocker_kind(make):
    absent = make.learner("absent", last_name="Absent")
    pending = make.learner("pending", last_name="Pending")
    cancelled = make.learner("cancelled", last_name="Cancelled")
    no_ine = make.learner("noine", last_name="Noine", ine=" ")
    leaver = make.learner("leaver", last_name="Leaver", active=False)
    pending_no_ine = make.learner("both", last_name="Both", ine=None)
    learners = [absent, pending, cancelled, no_ine, leaver, pending_no_ine]
    candidates = [make.candidate(learner) for learner in learners[1:]]
    results = [
        make.result(candidates[0], 1, published=False),
        make.result(candidates[1], 2, status=ResultStatus.CANCELLED),
        make.result(candidates[2], 3),
        make.result(candidates[4], 5, published=False),
    ]
    readiness = class_readiness(ExportIndex(learners, candidates, results), UAI, "3A")
    assert not readiness.ready
    assert [(b.last_name, b.kind) for b in readiness.blockers] == [
        ("Absent", BlockerKind.NO_RESULT),
        ("Both", BlockerKind.RESULT_PENDING),
        ("Both", BlockerKind.MISSING_INE),
        ("Cancelled", BlockerKind.NO_RESULT),
        ("Leaver", BlockerKind.LEFT_SCHOOL),
        ("Noine", BlockerKind.MISSING_INE),
        ("Pending", BlockerKind.RESULT_PENDING),
    ]


def test_a_learner_who_sat_a_session_without_results_yet_is_pending_not_missing(make):
    sat = make.learner("sat", last_name="Sat")
    never = make.learner("never", last_name="Never")
    index = ExportIndex([sat, never], [make.candidate(sat)], [])
    readiness = class_readiness(index, UAI, "3A", awaiting_results={sat.id})
    assert [(b.last_name, b.kind) for b in readiness.blockers] == [
        ("Never", BlockerKind.NO_RESULT),
        ("Sat", BlockerKind.RESULT_PENDING),
    ]


def test_a_published_result_in_error_is_still_pending_as_the_livret_shows_it(make):
    learner = make.learner("err", last_name="Err")
    candidate = make.candidate(learner)
    index = ExportIndex([learner], [candidate], [make.result(candidate, 1, status=ResultStatus.ERROR)])
    readiness = class_readiness(index, UAI, "3A")
    assert [b.kind for b in readiness.blockers] == [BlockerKind.RESULT_PENDING]
