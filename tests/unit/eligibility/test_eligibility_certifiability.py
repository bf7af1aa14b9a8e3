from datetime import date

from deploy.local.generator import Participation, campaign_csv_bytes
from services.eligibility.domain.campaign import parse_campaign_export
from services.eligibility.domain.campaign_matching import (
    LearnerIdentity,
    MatchMethod,
    assess_from_campaign,
    match_campaign_rows,
)
from services.eligibility.domain.certifiability import (
    CertifiabilityStatus,
    DisagreementRule,
    assess_levels,
    competences_needed,
    level_from_pix,
    summarise,
)
from shared.contracts.referential import COMPETENCE_IDS

CERT, NOT, UNKNOWN = (
    CertifiabilityStatus.CERTIFIABLE,
    CertifiabilityStatus.NOT_CERTIFIABLE,
    CertifiabilityStatus.UNKNOWN,
)


def levels(*values: int) -> dict[str, int]:
    return dict(zip(COMPETENCE_IDS, (*values, *([0] * (16 - len(values)))), strict=True))


def test_threshold_is_five_competences_at_level_one():
    assert assess_levels("x", levels(1, 1, 1, 1, 1)).status is CERT
    four = assess_levels("x", levels(1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert four.status is NOT and four.certifiable_count == 4 and four.competences_needed == 1
    assert four.zero_level_competences == COMPETENCE_IDS[4:]
    assert assess_levels("x", levels(5, 5, 5, 5, 5, 5)).competences_needed == 0


def test_level_from_pix_and_needed():
    assert [level_from_pix(p) for p in (0, 7, 8, 15, 16, 40)] == [0, 0, 1, 1, 2, 5]
    assert [competences_needed(n) for n in (0, 3, 5, 9)] == [5, 2, 0, 0]


def test_disagreements_with_the_file_are_recorded_not_obeyed():
    assessment = assess_levels("x", levels(1, 1, 1, 1), file_certifiable=True, file_count=5, source_line=7)
    assert assessment.status is NOT
    assert [(d.rule, d.file_value, d.computed_value, d.line) for d in assessment.disagreements] == [
        (DisagreementRule.CERTIFIABLE_MISMATCH, True, False, 7),
        (DisagreementRule.COUNT_MISMATCH, 5, 4, 7),
    ]


def _identity(learner_id, last, first, division, ine="", usage=""):
    return LearnerIdentity(learner_id, ine, last, first, division, usage)


def test_matching_external_id_then_names_and_class_reporting_ambiguous_and_unmatched():
    pix_ok, pix_low = (8,) * 16, (0,) * 16
    participations = [
        Participation("X", "Y", "3A", "123456789AB", True, date(2025, 11, 3), pix_ok),  # by INE despite names
        Participation("Lefèvre", "Chloé", "3a", "", True, date(2025, 11, 4), pix_low),  # accents / case
        Participation("Martin", "Léo", "3B", "", True, date(2025, 11, 4), pix_ok),  # two Léo Martin in 3B
        Participation("Inconnu", "Jean", "3C", "", False),  # nobody
        Participation("Petit", "Adam", "3C", "", True, date(2025, 11, 5), pix_ok),  # moved class 3C → 4A
        Participation("Roux-Dupré", "Inès", "3A", "", False),  # matched via usage name; not shared
    ]
    rows = parse_campaign_export(campaign_csv_bytes(participations), file_name="e.csv").rows
    learners = [
        _identity("a", "Dupont", "Léa", "3A", ine="123456789AB"),
        _identity("b", "LEFEVRE", "chloe", "3A"),
        _identity("c1", "Martin", "Léo", "3B"),
        _identity("c2", "Martin", "Leo", "3B"),
        _identity("d", "Petit", "Adam", "4A"),
        _identity("e", "Roux", "Inès", "3A", usage="Roux-Dupré"),
        _identity("f", "Never", "Seen", "3A"),
    ]
    matching = match_campaign_rows(rows, learners)
    assert {(m.learner_id, m.method) for m in matching.matched} == {
        ("a", MatchMethod.EXTERNAL_ID),
        ("b", MatchMethod.NAMES_AND_CLASS),
        ("d", MatchMethod.NAMES_OTHER_CLASS),
        ("e", MatchMethod.NAMES_AND_CLASS),
    }
    assert [(a.row.last_name, a.candidate_ids) for a in matching.ambiguous] == [("Martin", ("c1", "c2"))]
    assert [r.last_name for r in matching.unmatched] == ["Inconnu"]

    assessments = assess_from_campaign([x.learner_id for x in learners], matching)
    assert {k: v.status for k, v in assessments.items()} == {
        "a": CERT,
        "b": NOT,
        "c1": UNKNOWN,
        "c2": UNKNOWN,
        "d": CERT,
        "e": UNKNOWN,  # not shared = unknown, never "not certifiable"
        "f": UNKNOWN,
    }
    assert assessments["b"].competences_needed == 5 and assessments["e"].competences_needed is None
    assert assessments["a"].pix_total == 8 * 16 and assessments["a"].source_line == 2


def test_a_learner_with_several_rows_keeps_the_latest_shared_one():
    p = [
        Participation("Dupont", "Léa", "3A", "", True, date(2025, 11, 20), (8,) * 16),
        Participation("Dupont", "Léa", "3A", "", False),
        Participation("Dupont", "Léa", "3A", "", True, date(2025, 11, 3), (0,) * 16),
    ]
    rows = parse_campaign_export(campaign_csv_bytes(p, external_id_label=None), file_name="e.csv").rows
    matching = match_campaign_rows(rows, [_identity("a", "Dupont", "Léa", "3A")])
    (best,) = matching.matched
    assert best.row.shared_at == date(2025, 11, 20) and best.method is MatchMethod.NAMES_AND_CLASS
    assert len(matching.superseded) == 2


def test_export_without_class_column_matches_on_names_only():
    p = [Participation("Dupont", "Léa", "", "", True, date(2025, 11, 20), (8,) * 16)]
    rows = parse_campaign_export(campaign_csv_bytes(p, with_division=False), file_name="e.csv").rows
    (m,) = match_campaign_rows(rows, [_identity("a", "Dupont", "Léa", "3A")]).matched
    assert m.method is MatchMethod.NAMES_ONLY


def test_file_disagreement_flows_through_matching():
    data = campaign_csv_bytes(
        [Participation("Dupont", "Léa", "3A", "", True, date(2025, 11, 20), (8,) * 4 + (0,) * 12)]
    )
    data = data.replace(b'"Non";4;', b'"Oui";5;')
    rows = parse_campaign_export(data, file_name="e.csv").rows
    assessments = assess_from_campaign(
        ["a"], match_campaign_rows(rows, [_identity("a", "Dupont", "Léa", "3A")])
    )
    assert [d.rule for d in assessments["a"].disagreements] == [
        DisagreementRule.CERTIFIABLE_MISMATCH,
        DisagreementRule.COUNT_MISMATCH,
    ]


def test_summary_per_class_and_school():
    assessments = {
        "1": assess_levels("1", levels(1, 1, 1, 1, 1)),
        "2": assess_levels("2", levels(1)),
        "3": assess_levels("3", levels(2, 2, 2, 2, 2, 2)),
    }
    summary = summarise([("1", "3A"), ("2", "3A"), ("3", "3B"), ("4", "3B")], assessments)
    assert (summary.counts.total, summary.counts.certifiable, summary.counts.not_certifiable) == (4, 2, 1)
    assert summary.counts.unknown == 1 and summary.counts.certifiable_rate == 0.5
    assert [(c.division, c.counts.certifiable, c.counts.unknown) for c in summary.classes] == [
        ("3A", 1, 0),
        ("3B", 1, 1),
    ]
    assert summarise([], {}).counts.certifiable_rate == 0.0
