"""The driver's data generator: deterministic, valid identifiers, the rates it is asked for, and the
very headers eligibility's readers expect (the generator writes the formats on its own)."""

from deploy.local.generator import (
    campaign_csv_bytes,
    generate_learners,
    generate_participations,
    learner_csv_bytes,
    siecle_xml_bytes,
)
from shared.contracts.identifiers import is_valid_ine


def test_same_seed_same_bytes():
    assert learner_csv_bytes(generate_learners(1, 50)) == learner_csv_bytes(generate_learners(1, 50))
    learners = generate_learners(1, 50)
    assert campaign_csv_bytes(generate_participations(2, learners)) == campaign_csv_bytes(
        generate_participations(2, learners)
    )
    assert siecle_xml_bytes(learners, "0211089V") == siecle_xml_bytes(learners, "0211089V")
    assert learner_csv_bytes(generate_learners(2, 50)) != learner_csv_bytes(learners)


def test_generated_learners_are_valid_and_unique():
    learners = generate_learners(4, 2_000)
    assert len({x.ine for x in learners}) == len({x.identity_key for x in learners}) == 2_000
    assert all(is_valid_ine(x.ine) for x in learners)


def test_generated_shares_and_certifiable_rates_are_roughly_as_asked():
    participations = generate_participations(
        5, generate_learners(5, 2_000), share_rate=0.8, certifiable_rate=0.5
    )
    shared = [p for p in participations if p.shared]
    assert 0.75 < len(shared) / 2_000 < 0.85
    assert 0.45 < sum(p.certifiable_count >= 5 for p in shared) / len(shared) < 0.55


def test_generator_levels_give_the_certifying_classes_asked_for():
    learners = generate_learners(6, 100, levels=(("T", "20212012110", 17),))
    assert {x.division[0] for x in learners} == {"T"} and {x.mef_code for x in learners} == {"20212012110"}
    assert all(x.birth_date.year == 2025 - 17 for x in learners)
    assert learners != generate_learners(6, 100)


def test_written_headers_are_the_ones_eligibility_reads():
    from deploy.local import generator
    from services.eligibility.domain import campaign
    from services.eligibility.domain.roster_csv import PIX_LEARNER_HEADERS

    assert {f.value: h for f, h in PIX_LEARNER_HEADERS.items()} == generator.PIX_LEARNER_HEADERS
    assert list(PIX_LEARNER_HEADERS.values()) == list(generator.PIX_LEARNER_HEADERS.values())
    for name in (
        "HEADER_ORGANISATION",
        "HEADER_SHARED",
        "HEADER_CERTIFIABLE_COUNT",
        "LEVEL_PREFIX",
        "PIX_PREFIX",
    ):
        assert getattr(generator, name) == getattr(campaign, name)
