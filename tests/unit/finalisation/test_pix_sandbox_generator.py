import json
import re
from datetime import date, timedelta

import pytest

from deploy.pix_sandbox.generator import (
    VERIFICATION_CODE_ALPHABET,
    certification_for,
    generate_class_results,
    generate_livret_results,
)
from services.finalisation.domain.finalisation import CandidateReport, FinalisationRequest, finalise_session
from services.finalisation.domain.invigilation import SessionRoom
from services.finalisation.domain.matching import KnownCandidate, match_results
from services.finalisation.domain.results import ResultStatus
from services.finalisation.domain.results_csv import parse_class_results_csv
from services.finalisation.domain.results_livret import parse_livret_scolaire_json
from tests.unit.finalisation.finalisation_builders import T0, candidate

PRESENT = 40


@pytest.fixture(scope="module")
def finalised_payload() -> dict:
    """A SessionFinalised payload as the domain produces it: 40 who sat the test, 2 absent."""
    people = [candidate(n, ine=f"{100000000 + n:09d}AB") for n in range(1, PRESENT + 3)]
    room = SessionRoom.open("sess-9", 9001, T0.date(), "fake$x", people)
    reports = []
    for person in people[:PRESENT]:
        room.confirm_presence(person.candidate_id, T0)
        room.start_test(person.candidate_id, T0)
        room.complete_test(person.candidate_id, T0 + timedelta(minutes=80))
        reports.append(CandidateReport(person.candidate_id, present=True))
    reports += [CandidateReport(p.candidate_id, present=False) for p in people[PRESENT:]]
    done = finalise_session(room, FinalisationRequest(reports, False, False), T0 + timedelta(hours=4))
    return done.to_payload()


def test_same_payload_same_bytes(finalised_payload):
    first = generate_livret_results(finalised_payload)
    assert first == generate_livret_results(json.loads(json.dumps(finalised_payload)))
    assert first.endswith(b"\n") and first.decode("utf-8")


def test_seed_depends_on_the_learner_the_session_date_and_the_run_seed(finalised_payload):
    person = finalised_payload["candidates"][0]
    a = certification_for(finalised_payload, person, "2025-03-15T12:00:00+00:00")
    for other_day in (
        certification_for(
            {**finalised_payload, "session_date": "2025-03-20"}, person, "2025-03-15T12:00:00+00:00"
        ),
        certification_for(finalised_payload, {**person, "ine": "999999999ZZ"}, "2025-03-15T12:00:00+00:00"),
        certification_for(finalised_payload, person, "2025-03-15T12:00:00+00:00", seed=7),
    ):
        assert a["id"] != other_day["id"] and a["verificationCode"] != other_day["verificationCode"]


def test_generated_ids_do_not_change_a_result(finalised_payload):
    """The services' UUIDs differ from run to run: a result must not depend on them."""
    person = finalised_payload["candidates"][0]
    a = certification_for(finalised_payload, person, "2025-03-15T12:00:00+00:00")
    b = certification_for(
        {**finalised_payload, "session_id": "other", "session_number": 4242},
        {**person, "candidate_id": "another-uuid"},
        "2025-03-15T12:00:00+00:00",
    )
    assert a == b


def test_livret_shape_only_present_candidates_sorted(finalised_payload):
    document = json.loads(generate_livret_results(finalised_payload))
    assert document["data"]["type"] == "certificationsResults"
    certifications = document["data"]["attributes"]["certifications"]
    assert len(certifications) == PRESENT
    assert [c["lastName"] for c in certifications] == sorted(c["lastName"] for c in certifications)
    assert {item["type"] for item in document["included"]} == {"areas", "competences"}
    for cert in certifications:
        assert re.fullmatch(rf"P-[{VERIFICATION_CODE_ALPHABET}]{{8}}", cert["verificationCode"])
        assert cert["status"] in ("validated", "rejected")


def test_scores_statuses_and_levels_are_consistent(finalised_payload):
    certifications = json.loads(generate_livret_results(finalised_payload))["data"]["attributes"][
        "certifications"
    ]
    statuses = [c["status"] for c in certifications]
    assert statuses.count("validated") > len(statuses) / 2
    for cert in certifications:
        if cert["status"] == "rejected":
            assert cert["pixScore"] == 0 and cert["competenceResults"] == []
            continue
        assert 64 <= cert["pixScore"] <= 895
        levels = [c["level"] for c in cert["competenceResults"]]
        assert [c["competenceId"] for c in cert["competenceResults"]] == sorted(
            c["competenceId"] for c in cert["competenceResults"]
        )
        assert len(levels) == 16 and all(0 <= level <= 7 for level in levels)
        assert abs(sum(levels) / 16 - cert["pixScore"] / 128) <= 1.0


def test_some_rejected_below_64(finalised_payload):
    people = [
        {
            **finalised_payload["candidates"][0],
            "candidate_id": f"x{n}",
            "last_name": f"X{n}",
            "ine": f"{n:09d}XY",
        }
        for n in range(300)
    ]
    document = json.loads(generate_livret_results({**finalised_payload, "candidates": people}))
    assert any(c["status"] == "rejected" for c in document["data"]["attributes"]["certifications"])


def test_round_trip_through_the_intake(finalised_payload):
    """What the sandbox writes, the intake reads, and every result finds its candidate by INE."""
    results = parse_livret_scolaire_json(generate_livret_results(finalised_payload), "sandbox.json")
    assert len(results) == PRESENT
    known = [
        KnownCandidate(
            finalised_payload["session_id"],
            finalised_payload["session_number"],
            c["candidate_id"],
            c["first_name"],
            c["last_name"],
            date.fromisoformat(c["birthdate"]),
            c["ine"],
        )
        for c in finalised_payload["candidates"]
    ]
    report = match_results(results, known)
    assert len(report.matched) == PRESENT and not report.unmatched and not report.ambiguous
    assert {m.method.value for m in report.matched} == {"ine"}
    assert all(r.global_level for r in results if r.status is ResultStatus.VALIDATED)


def test_class_results_carry_the_pix_session_number_and_the_livret_s_results(finalised_payload):
    assert generate_class_results(finalised_payload) == {}  # no Pix Certif number recorded
    payload = {**finalised_payload, "pix_session_number": 61234}
    files = generate_class_results(payload, seed=3)
    assert files == generate_class_results(json.loads(json.dumps(payload)), seed=3)
    rows = [r for division, data in files.items() for r in parse_class_results_csv(data, f"{division}.csv")]
    assert len(rows) == PRESENT and {r.session_number for r in rows} == {61234}
    livret = {
        r.certification_id: r for r in parse_livret_scolaire_json(generate_livret_results(payload, 3), "x")
    }
    for row in rows:
        same = livret[row.certification_id]
        assert (row.status, row.pix_score, row.last_name) == (same.status, same.pix_score, same.last_name)

    # matched by Pix's number among two sessions whose candidates are the same people
    def known(session_id: str, number: int, pix: int | None) -> list[KnownCandidate]:
        return [
            KnownCandidate(
                session_id,
                number,
                c["candidate_id"],
                c["first_name"],
                c["last_name"],
                date.fromisoformat(c["birthdate"]),
                None,
                c["learner_id"],
                pix,
            )
            for c in payload["candidates"]
        ]

    report = match_results(rows, known("sess-9", 9001, 61234) + known("sess-10", 9002, 61299))
    assert len(report.matched) == PRESENT and not report.ambiguous
    assert {m.candidate.session_id for m in report.matched} == {"sess-9"}
