"""SQL of a learner's erasure in the finalisation schema (README, *Erasing a learner*).

Candidates keep their rows (rooms, finalisations and results keep their counts) with the names,
INE and birth date erased; so do the finalised sessions' recorded SessionFinalised payloads and
the stored results (birth place, external id and jury comment too), the finalisations an
amendment replaced, and the results rows left without a candidate that were given to the learner
or carry the learner's INE.
"""

from __future__ import annotations

import json

import asyncpg

from shared.erasure import ERASED_BIRTHDATE, erase_fields, erase_in_payload


def _count(status: str) -> int:
    return int(status.split()[-1])


def _decoded(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


async def erase_tables(conn: asyncpg.Connection, learner_id: str) -> int:
    """Erase the learner in every finalisation table; rows changed (shared.erasure.EraseTables)."""
    ines = [  # read before the candidates' INE is erased: an unmatched row names no learner
        r["ine"]
        for r in await conn.fetch(
            "SELECT DISTINCT ine FROM candidates WHERE learner_id = $1 AND ine IS NOT NULL", learner_id
        )
    ]
    changed = _count(
        await conn.execute(
            "UPDATE candidates SET ine = NULL, first_name = '', last_name = '', birthdate = $2"
            " WHERE learner_id = $1"
            " AND (ine IS NOT NULL OR first_name <> '' OR last_name <> '' OR birthdate <> $2)",
            learner_id,
            ERASED_BIRTHDATE,
        )
    )
    finalised = await conn.fetch(
        "SELECT session_id, payload FROM finalisations WHERE payload->'candidates' @> $1::jsonb",
        [{"learner_id": learner_id}],
    )
    for row in finalised:
        payload, n = erase_in_payload(_decoded(row["payload"]), learner_id)
        if n:
            await conn.execute(
                "UPDATE finalisations SET payload = $2 WHERE session_id = $1", row["session_id"], payload
            )
            changed += 1
    replaced = await conn.fetch(
        "SELECT session_id, amendment, replaced FROM finalisation_amendments"
        " WHERE replaced->'candidates' @> $1::jsonb",
        [{"learner_id": learner_id}],
    )
    for row in replaced:
        payload, n = erase_in_payload(_decoded(row["replaced"]), learner_id)
        if n:
            await conn.execute(
                "UPDATE finalisation_amendments SET replaced = $3 WHERE session_id = $1 AND amendment = $2",
                row["session_id"],
                row["amendment"],
                payload,
            )
            changed += 1
    rows = await conn.fetch(
        "SELECT u.certification_id, u.result FROM unmatched_results u"
        " LEFT JOIN candidates c"
        " ON (c.session_id, c.candidate_id) = (u.assigned_session_id, u.assigned_candidate_id)"
        " WHERE c.learner_id = $1 OR upper(u.result->>'ine') = ANY($2::text[])",
        learner_id,
        [ine.upper() for ine in ines],
    )
    for row in rows:
        result, n = erase_fields(_decoded(row["result"]))  # type: ignore[arg-type]
        if n:
            await conn.execute(
                "UPDATE unmatched_results SET result = $2 WHERE certification_id = $1",
                row["certification_id"],
                result,
            )
            changed += 1
    results = await conn.fetch(  # a stored result names its candidate, not the learner
        "SELECT r.session_id, r.candidate_id, r.result FROM session_results r"
        " JOIN candidates c USING (session_id, candidate_id) WHERE c.learner_id = $1",
        learner_id,
    )
    for row in results:
        result, n = erase_fields(_decoded(row["result"]))  # type: ignore[arg-type]
        if n:
            await conn.execute(
                "UPDATE session_results SET result = $3 WHERE session_id = $1 AND candidate_id = $2",
                row["session_id"],
                row["candidate_id"],
                result,
            )
            changed += 1
    return changed
