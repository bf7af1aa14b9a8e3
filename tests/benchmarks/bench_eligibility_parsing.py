"""Benchmark (not a test): parse + validate a 50k-learner roster and a 50k-row campaign export.

Run: .venv/bin/python tests/benchmarks/bench_eligibility_parsing.py [learners]
Target: < 3 s each on the 2-core dev machine (the whole import, with DB storage, must stay < 10 s).
"""

import sys
import time
from dataclasses import replace
from datetime import date

from deploy.local.generator import (
    campaign_csv_bytes,
    generate_learners,
    generate_participations,
    learner_csv_bytes,
    siecle_xml_bytes,
)
from services.eligibility.domain.campaign import parse_campaign_export
from services.eligibility.domain.campaign_matching import (
    LearnerIdentity,
    assess_from_campaign,
    match_campaign_rows,
)
from services.eligibility.domain.roster_csv import parse_learner_csv
from services.eligibility.domain.roster_diff import ExistingLearner, diff_roster
from services.eligibility.domain.siecle_xml import parse_siecle_xml

UAI = "0211089V"


def timed(label: str, rows: int, size: int, action):
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    print(
        f"{label:<38} {rows:>7} rows {size / 1_048_576:7.1f} MB {elapsed:7.2f} s {rows / elapsed:>10,.0f} rows/s"
    )
    return result


def main(count: int) -> None:
    learners = generate_learners(2026, count)
    roster_csv = learner_csv_bytes(learners)
    roster_xml = siecle_xml_bytes(learners, UAI)
    participations = generate_participations(2027, learners)
    export = campaign_csv_bytes(participations)
    today = date(2025, 12, 1)
    print(f"python {sys.version.split()[0]}, {count} learners")

    roster = timed(
        "learner CSV parse+validate",
        count,
        len(roster_csv),
        lambda: parse_learner_csv(roster_csv, file_name="eleves.csv", uai=UAI, reference_date=today),
    )
    assert roster.accepted, roster.issues[:5]
    xml = timed(
        "SIECLE XML parse+validate",
        count,
        len(roster_xml),
        lambda: parse_siecle_xml(roster_xml, file_name="eleves.xml", uai=UAI, reference_date=today),
    )
    assert xml.accepted, xml.issues[:5]
    campaign = timed(
        "campaign export parse+validate",
        count,
        len(export),
        lambda: parse_campaign_export(export, file_name="export.csv"),
    )
    assert campaign.accepted, campaign.issues[:5]
    identities = [LearnerIdentity.of(f"L{i}", learner) for i, learner in enumerate(roster.learners)]

    def match_and_assess():
        matching = match_campaign_rows(campaign.rows, identities)
        return matching, assess_from_campaign([x.learner_id for x in identities], matching)

    matching, assessments = timed("campaign match+assess", count, 0, match_and_assess)
    assert len(matching.matched) == count and len(assessments) == count
    existing = [
        ExistingLearner(x.learner_id, learner) for x, learner in zip(identities, roster.learners, strict=True)
    ]
    incoming = [replace(x, division="2NDE") if i % 20 == 0 else x for i, x in enumerate(roster.learners)]
    diff = timed("re-import diff (5% class moves)", count, 0, lambda: diff_roster(existing, incoming))
    assert len(diff.updated) == count // 20


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
