"""SQL of a learner's erasure in the export schema (README, *Erasing a learner*).

The roster and results rows stay (the class files and the livret keep their counts) with the
names, INE, birth date and place, external id and jury comment erased; the learner's class and
the school's livret are marked stale, so the rebuild job writes them again without the learner's
data (files already handed out, downloaded or pulled by the LSU/LSL API are outside certibus).
"""

from __future__ import annotations

import asyncpg

from services.export.domain.selection import division_key
from services.export.store import ExportStore
from shared.erasure import ERASED_BIRTHDATE


async def erase_tables(conn: asyncpg.Connection, learner_id: str) -> int:
    """Erase the learner in every export table and mark their files stale; rows changed."""
    learners = await conn.fetch(
        "UPDATE learners SET ine = NULL, first_name = '', middle_name = NULL, third_name = NULL,"
        " last_name = '', birthdate = $2, birth_city = NULL WHERE learner_id = $1"
        " AND (ine IS NOT NULL OR first_name <> '' OR middle_name IS NOT NULL OR third_name IS NOT NULL"
        " OR last_name <> '' OR birthdate <> $2 OR birth_city IS NOT NULL) RETURNING uai, division",
        learner_id,
        ERASED_BIRTHDATE,
    )
    results = await conn.fetch(
        "UPDATE results r SET first_name = '', last_name = '', birthdate = $2, birthplace = NULL,"
        " external_id = NULL, jury_comment = NULL WHERE r.learner_id = $1"
        " AND (first_name <> '' OR last_name <> '' OR birthdate <> $2 OR birthplace IS NOT NULL"
        " OR external_id IS NOT NULL OR jury_comment IS NOT NULL)"
        " RETURNING r.uai, (SELECT division FROM learners l WHERE l.learner_id = r.learner_id) AS division",
        learner_id,
        ERASED_BIRTHDATE,
    )
    marks = {(r["uai"], "") for r in [*learners, *results]}
    marks |= {(r["uai"], division_key(r["division"])) for r in [*learners, *results] if r["division"]}
    await ExportStore(conn).mark_stale(marks)
    return len(learners) + len(results)
