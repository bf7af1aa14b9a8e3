from datetime import date

from services.finalisation.domain.matching import KnownCandidate, MatchMethod, match_results, normalise_name
from services.finalisation.domain.results import CertificationResult, ResultSource, ResultStatus


def result(cid: int, first="Élodie", last="Martin", birth=date(2010, 1, 2), ine=None, session=None, **kw):
    return CertificationResult(
        certification_id=cid,
        first_name=first,
        last_name=last,
        birthdate=birth,
        ine=ine,
        session_number=session,
        status=ResultStatus.VALIDATED,
        source=ResultSource.CLASS_RESULTS_CSV,
        pix_score=300,
        **kw,
    )


def known(cid: str, first="Elodie", last="MARTIN", birth=date(2010, 1, 2), ine=None, session=("s1", 777)):
    return KnownCandidate(session[0], session[1], cid, first, last, birth, ine, f"l-{cid}")


def test_name_normalisation():
    assert normalise_name("  D’Almeida-Ruiz ") == normalise_name("d'almeida ruiz") == "d almeida ruiz"
    assert normalise_name("ÉLODIE") == normalise_name("elodie")


def test_ine_first():
    c1, c2 = known("c1", ine="123456789ab"), known("c2", first="Autre", ine="123456789CD")
    report = match_results([result(1, first="Nom changé", ine="123456789AB")], [c1, c2])
    (match,) = report.matched
    assert (match.candidate, match.method) == (c1, MatchMethod.INE)
    assert report.candidates_without_result == [c2]


def test_names_and_birthdate_when_no_ine():
    c1 = known("c1")
    report = match_results([result(1)], [c1, known("c2", birth=date(2010, 1, 3))])
    assert report.matched[0].candidate == c1 and report.matched[0].method is MatchMethod.IDENTITY


def test_result_ine_unknown_falls_back_to_names_but_never_onto_another_ine():
    assert match_results([result(1, ine="111111111AA")], [known("c1")]).matched
    report = match_results([result(1, ine="111111111AA")], [known("c1", ine="222222222BB")])
    assert report.unmatched and not report.matched


def test_compound_given_names_from_the_livret():
    candidate = known("c1", first="Anne-Sophie")
    assert match_results([result(1, first="Anne", middle_name="Sophie")], [candidate]).matched


def test_unmatched_rows_are_reported():
    report = match_results([result(1, last="Inconnu")], [known("c1")])
    assert [r.certification_id for r in report.unmatched] == [1]
    assert report.candidates_without_result == [known("c1")]


def test_two_candidates_fit_is_ambiguous():
    a, b = known("c1"), known("c2", session=("s2", 778))
    (amb,) = match_results([result(1)], [a, b]).ambiguous
    assert set(amb.candidates) == {a, b} and amb.reason == "several candidates fit"


def test_session_number_of_the_csv_row_restricts_the_candidates():
    a, b = known("c1"), known("c2", session=("s2", 778))
    report = match_results([result(1, session=778)], [a, b])
    assert report.matched[0].candidate == b and not report.ambiguous


def test_two_results_for_one_candidate_are_ambiguous():
    report = match_results([result(1), result(2)], [known("c1")])
    assert not report.matched
    assert [a.result.certification_id for a in report.ambiguous] == [1, 2]
    assert report.candidates_without_result == []


def test_fingerprints_by_session():
    a, b = known("c1"), known("c2", first="Jean", session=("s2", 778))
    report = match_results([result(1), result(2, first="Jean")], [a, b])
    prints = report.fingerprints_by_session()
    assert set(prints) == {"s1", "s2"} and prints["s1"] != prints["s2"]
    again = match_results([result(2, first="Jean"), result(1)], [b, a]).fingerprints_by_session()
    assert again == prints


def pixed(cid: str, session=("s1", 777), pix: int | None = 61234, **kw) -> KnownCandidate:
    c = known(cid, session=session, **kw)
    return KnownCandidate(
        c.session_id,
        c.session_number,
        c.candidate_id,
        c.first_name,
        c.last_name,
        c.birthdate,
        c.ine,
        c.learner_id,
        pix,
    )


def test_pix_session_number_restricts_the_candidates_once_recorded():
    a, b = pixed("c1", pix=61234), pixed("c2", session=("s2", 778), pix=61235)
    report = match_results([result(1, session=61235)], [a, b])
    assert report.matched[0].candidate == b and not report.ambiguous
    # certibus's own number no longer names a session whose Pix number is recorded
    assert not match_results([result(1, session=778)], [a, b]).matched


def test_pix_number_first_then_ine_then_names():
    namesake = pixed("c1", pix=61234, ine="123456789AB")
    student = pixed("c2", session=("s2", 778), pix=61235, ine="987654321CD", first="Autre")
    report = match_results([result(1, ine="987654321CD", session=61235)], [namesake, student])
    assert (report.matched[0].candidate, report.matched[0].method) == (student, MatchMethod.INE)
    report = match_results([result(2, first="Autre", session=61235)], [namesake, student])
    assert report.matched[0].candidate == student and report.matched[0].method is MatchMethod.IDENTITY


def test_a_pix_number_no_session_answers_to_falls_back_to_sessions_without_one():
    recorded = pixed("c1", pix=61234)
    unrecorded = known("c2", first="Jean", session=("s2", 778))
    report = match_results([result(1, first="Jean", session=99999)], [recorded, unrecorded])
    assert report.matched[0].candidate == unrecorded
    # the student of the recorded session is not taken by a row naming another Pix session
    assert not match_results([result(2, session=99999)], [recorded, unrecorded]).matched
