"""Results intake through HTTP on real Postgres, with files written in Pix's exact formats."""

from __future__ import annotations

import json

from deploy.pix_sandbox.generator import generate_livret_results
from shared.contracts.events import ResultsProcessed, SessionFinalised
from tests.component.finalisation.finalisation_support import (
    CLASS_CSV_HEADER,
    Invigilator,
    class_csv,
    csv_line,
    finalisation_body,
    livret_entry,
    livret_json,
    session_events,
)


def error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def a_finalised_session(finalisation, candidates: int = 3, **kwargs):
    """Candidates 0 and 1 took the test, the others were absent."""
    session = await finalisation.seed(session_events(candidates, **kwargs))
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    await invigilator.take_test(0)
    await invigilator.take_test(1)
    response = await finalisation.http.put(
        f"/sessions/{session.session_id}/finalisation", json=finalisation_body(session, {0: None, 1: None})
    )
    assert response.status_code == 200, response.text
    return session


async def post_results(finalisation, session, data: bytes, content_type: str | None = "text/csv"):
    headers = {"Content-Type": content_type} if content_type else {}
    return await finalisation.http.post(
        f"/sessions/{session.session_id}/results", content=data, headers=headers
    )


async def test_class_results_csv_is_matched_by_names_and_birthdate(finalisation):
    session = await a_finalised_session(finalisation)
    first, second = session.candidate(0), session.candidate(1)
    stranger = session_events(1).candidate(0)
    data = class_csv(
        csv_line(9001, first, session.session_number, score=412),
        csv_line(
            9002,
            second,
            session.session_number,
            status="Rejetée",
            score=0,
            levels=["-"] * 16,
            comment="Le candidat a répondu faux à plus de 50% des questions posées",
        ),
        csv_line(9003, stranger, session.session_number),
    )
    response = await post_results(finalisation, session, data)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["source"], report["rows"], report["matched"], report["unchanged"]) == (
        "class_results_csv",
        3,
        2,
        False,
    )
    assert [row["certification_id"] for row in report["unmatched"]] == [9003]

    (event,) = await finalisation.raised(ResultsProcessed)
    assert (event.session_id, event.session_number, event.uai) == (
        session.session_id,
        session.session_number,
        session.uai,
    )
    assert event.source == "class_results_csv" and event.unmatched_rows == 1
    by_candidate = {r.candidate_id: r for r in event.results}
    validated, rejected = by_candidate[first.candidate_id], by_candidate[second.candidate_id]
    assert (validated.certification_id, validated.status, validated.pix_score) == (9001, "validated", 412)
    assert validated.global_level == "LEVEL_INDEPENDENT_4"  # 384–511
    assert validated.learner_id == first.learner_id and validated.ine == first.ine
    assert validated.competence_levels["1.3"] == 4 and validated.competence_levels["5.2"] == 2
    assert validated.birthplace == "Paris" and str(validated.taken_on) == "2027-03-10"
    assert (rejected.status, rejected.pix_score, rejected.global_level) == ("rejected", 0, None)
    assert set(rejected.competence_levels.values()) == {None}
    assert rejected.jury_comment.startswith("Le candidat a répondu faux")
    assert event.results_sha256 == report["sessions"][0]["results_sha256"]


async def test_reimporting_the_same_results_changes_nothing_and_raises_nothing(finalisation):
    session = await a_finalised_session(finalisation)
    data = class_csv(csv_line(9001, session.candidate(0), session.session_number))
    first = await post_results(finalisation, session, data)
    again = await post_results(finalisation, session, data)
    assert first.json()["unchanged"] is False
    assert again.status_code == 200 and again.json()["unchanged"] is True
    assert again.json()["sessions"][0]["results_sha256"] == first.json()["sessions"][0]["results_sha256"]
    assert len(await finalisation.raised(ResultsProcessed)) == 1
    assert await finalisation.count("results_imports") == 1


async def test_a_later_import_merges_into_the_session_results(finalisation):
    session = await a_finalised_session(finalisation)
    await post_results(
        finalisation, session, class_csv(csv_line(9001, session.candidate(0), session.session_number))
    )
    corrected = class_csv(csv_line(9002, session.candidate(1), session.session_number, score=700))
    response = await post_results(finalisation, session, corrected)
    assert response.json()["unchanged"] is False
    latest = (await finalisation.raised(ResultsProcessed))[-1]
    assert sorted(r.certification_id for r in latest.results) == [9001, 9002]
    assert {r.certification_id: r.global_level for r in latest.results}[9002] == "LEVEL_ADVANCED_6"


async def test_livret_json_upload_is_matched_by_ine(finalisation):
    session = await a_finalised_session(finalisation)
    first, second = session.candidate(0), session.candidate(1)
    renamed = livret_entry(7001, first, score=520)
    renamed["lastName"] = "Nom d'usage différent"  # the INE decides, not the names
    data = livret_json(renamed, livret_entry(7002, second, status="pending"))
    response = await finalisation.http.post(
        f"/sessions/{session.session_id}/results",
        files={"file": ("livret_certifications_0750001A.json", data, "application/json")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["file_name"] == "livret_certifications_0750001A.json"
    (event,) = await finalisation.raised(ResultsProcessed)
    assert event.source == "livret_json"
    by_candidate = {r.candidate_id: r for r in event.results}
    validated, pending = by_candidate[first.candidate_id], by_candidate[second.candidate_id]
    assert (validated.status, validated.pix_score, validated.global_level) == (
        "validated",
        520,
        "LEVEL_ADVANCED_5",
    )
    assert validated.verification_code == "P-Y468ACDE" and validated.published_at is not None
    assert validated.competence_levels["1.1"] == 6 and validated.competence_levels["2.1"] is None
    assert (pending.status, pending.pix_score, pending.global_level) == ("started", None, None)


async def test_the_format_is_detected_from_the_first_byte_without_a_content_type(finalisation):
    session = await a_finalised_session(finalisation)
    livret = await post_results(
        finalisation, session, livret_json(livret_entry(7001, session.candidate(0))), content_type=None
    )
    assert livret.status_code == 200 and livret.json()["source"] == "livret_json"
    csv = await post_results(
        finalisation,
        session,
        class_csv(csv_line(9001, session.candidate(1), session.session_number)),
        content_type="application/octet-stream",
    )
    assert csv.status_code == 200 and csv.json()["source"] == "class_results_csv"


async def test_cancelled_error_and_started_statuses(finalisation):
    session = await a_finalised_session(finalisation, candidates=4)
    number = session.session_number
    dashes: list[int | str] = ["-"] * 16
    data = class_csv(
        csv_line(
            1, session.candidate(0), number, status="Annulée", score="-", levels=dashes, comment="Annulée"
        ),
        csv_line(2, session.candidate(1), number, status="En erreur", score="-", levels=dashes),
    )
    response = await post_results(finalisation, session, data)
    assert response.status_code == 200, response.text
    (event,) = await finalisation.raised(ResultsProcessed)
    assert sorted((r.certification_id, r.status, r.pix_score) for r in event.results) == [
        (1, "cancelled", None),
        (2, "error", None),
    ]


async def test_results_for_an_unfinalised_or_unknown_session_are_refused(finalisation):
    session = await finalisation.seed(session_events())
    data = class_csv(csv_line(9001, session.candidate(0), session.session_number))
    assert error(await post_results(finalisation, session, data)) == (409, "results.session_not_finalised")
    unknown = await finalisation.http.post("/sessions/nope/results", content=data)
    assert error(unknown) == (404, "session.unknown")
    assert await finalisation.count("session_results") == 0


async def test_a_wrong_header_rejects_the_whole_file(finalisation):
    session = await a_finalised_session(finalisation)
    english = CLASS_CSV_HEADER.replace('"Prénom"', '"First name"')
    response = await post_results(
        finalisation,
        session,
        class_csv(csv_line(9001, session.candidate(0), session.session_number), header=english),
    )
    assert error(response) == (422, "results.bad_header")
    assert response.json()["error"]["details"]["problems"][0]["column"] == "column 2"
    assert await finalisation.count("session_results") == 0
    assert await finalisation.raised(ResultsProcessed) == []


async def test_one_bad_value_rejects_the_whole_file(finalisation):
    session = await a_finalised_session(finalisation)
    data = class_csv(
        csv_line(9001, session.candidate(0), session.session_number),
        csv_line(9002, session.candidate(1), session.session_number, status="Validé"),
    )
    response = await post_results(finalisation, session, data)
    assert error(response) == (422, "results.bad_values")
    assert response.json()["error"]["details"]["problems"][0]["line"] == 3
    assert await finalisation.count("session_results") == 0


async def test_a_file_of_unknown_candidates_is_refused(finalisation):
    session = await a_finalised_session(finalisation)
    strangers = session_events(2)
    data = livret_json(livret_entry(1, strangers.candidate(0)), livret_entry(2, strangers.candidate(1)))
    response = await post_results(finalisation, session, data, "application/json")
    assert error(response) == (422, "results.unknown_candidates")
    assert len(response.json()["error"]["details"]["unmatched"]) == 2
    assert await finalisation.count("session_results") == 0


async def test_malformed_json_and_empty_body(finalisation):
    session = await a_finalised_session(finalisation)
    assert error(await post_results(finalisation, session, b'{"data": [', "application/json")) == (
        422,
        "results.bad_json",
    )
    assert error(await post_results(finalisation, session, b"")) == (422, "results.empty")


async def test_a_school_livret_is_split_across_its_finalised_sessions(finalisation):
    morning = await a_finalised_session(finalisation)
    afternoon = await a_finalised_session(finalisation)
    data = livret_json(
        livret_entry(1, morning.candidate(0)),
        livret_entry(2, afternoon.candidate(1)),
        livret_entry(3, session_events(1).candidate(0)),
    )
    response = await finalisation.http.post(
        "/results", params={"uai": morning.uai}, content=data, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["matched"] == 2 and len(response.json()["unmatched"]) == 1
    events = {e.session_id: e for e in await finalisation.raised(ResultsProcessed)}
    assert [r.certification_id for r in events[morning.session_id].results] == [1]
    assert [r.certification_id for r in events[afternoon.session_id].results] == [2]

    again = await finalisation.http.post(
        "/results", params={"uai": morning.uai}, content=data, headers={"Content-Type": "application/json"}
    )
    assert again.json()["unchanged"] is True
    assert len(await finalisation.raised(ResultsProcessed)) == 2


async def test_the_sandbox_output_goes_through_the_same_intake(finalisation):
    session = await a_finalised_session(finalisation)
    (finalised,) = await finalisation.raised(SessionFinalised)
    data = generate_livret_results(json.loads(finalised.model_dump_json()))
    response = await post_results(finalisation, session, data, "application/json")
    assert response.status_code == 200, response.text
    assert response.json()["matched"] == 2 and response.json()["unmatched"] == []
    (event,) = await finalisation.raised(ResultsProcessed)
    assert {r.candidate_id for r in event.results} == {
        session.candidate(0).candidate_id,
        session.candidate(1).candidate_id,
    }
    assert (await post_results(finalisation, session, data, "application/json")).json()["unchanged"] is True
