"""A learner's erasure reaches the referent's tables on real PostgreSQL: the finalisation an
amendment replaced, and the results rows left without a candidate (assigned to the learner, or
carrying the learner's INE)."""

from __future__ import annotations

from services.finalisation.store_erasure import erase_tables
from tests.component.finalisation.finalisation_support import (
    Invigilator,
    class_csv,
    csv_line,
    finalisation_body,
    livret_entry,
    livret_json,
    session_events,
)


async def traces(finalisation, *names: str) -> dict[str, int]:
    """Rows of the two tables whose JSON still names one of `names`."""
    found = {}
    for table, column in (("finalisation_amendments", "replaced"), ("unmatched_results", "result")):
        found[table] = await finalisation.pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE {column}::text ~ $1", "|".join(names)
        )
    return found


async def test_erasing_learners_blanks_the_replaced_finalisation_and_their_rows(finalisation):
    session = await finalisation.seed(session_events(3))
    invigilator = Invigilator(finalisation.http, session)
    assert (await invigilator.log_in()).status_code == 200
    for i in range(3):
        await invigilator.take_test(i)
    url = f"/sessions/{session.session_id}/finalisation"
    assert (
        await finalisation.http.put(url, json=finalisation_body(session, {0: None, 1: None, 2: None}))
    ).status_code == 200
    amended = await finalisation.http.post(
        f"{url}/amendment", json=finalisation_body(session, {0: None, 1: None, 2: None}, comment="RAS")
    )
    assert amended.status_code == 200, amended.text
    twice, misspelt, matched = session.candidate(0), session.candidate(1), session.candidate(2)
    results_url = f"/sessions/{session.session_id}/results"
    livret = livret_json(livret_entry(9001, twice), livret_entry(9002, twice), livret_entry(9003, matched))
    answer = await finalisation.http.post(
        results_url, content=livret, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200 and len(answer.json()["ambiguous"]) == 2, answer.text
    wrong_name = misspelt.model_copy(update={"last_name": misspelt.last_name + "x"})
    csv = class_csv(
        csv_line(9004, wrong_name, session.session_number), csv_line(9003, matched, session.session_number)
    )
    assert (
        await finalisation.http.post(results_url, content=csv, headers={"Content-Type": "text/csv"})
    ).status_code == 200
    assigned = await finalisation.http.post(
        f"{results_url}/assignments", json={"certification_id": 9004, "candidate_id": misspelt.candidate_id}
    )
    assert assigned.status_code == 200, assigned.text

    names = (twice.last_name, misspelt.last_name)
    assert await traces(finalisation, *names) == {"finalisation_amendments": 1, "unmatched_results": 3}
    async with finalisation.pool.acquire() as conn, conn.transaction():
        for learner in (twice, misspelt):
            assert await erase_tables(conn, learner.learner_id) > 0
    assert await traces(finalisation, *names) == {"finalisation_amendments": 0, "unmatched_results": 0}
    assert await traces(finalisation, matched.last_name) == {
        "finalisation_amendments": 1,
        "unmatched_results": 0,
    }
    assert await finalisation.count("unmatched_results") == 3  # the rows stay, blanked
