"""SQL of a learner's erasure in the scheduler schema (README, *Erasing a learner*).

The learners read model keeps the row, inactive (an erased learner is planned and enrolled no
more: a convocation needs a name); candidates keep their rows, so sessions keep their counts,
with the names, INE and birth date erased; the cached documents of the learner's sessions (PDFs
and bundles showing the name) are dropped and rendered again, without it, when next asked for.
"""

from __future__ import annotations

import asyncpg

from shared.erasure import ERASED_BIRTHDATE


def _count(status: str) -> int:
    return int(status.split()[-1])


async def erase_tables(conn: asyncpg.Connection, learner_id: str) -> int:
    """Erase the learner in every scheduler table; rows changed (shared.erasure.EraseTables)."""
    learners = await conn.execute(
        "UPDATE learners SET ine = NULL, first_name = '', last_name = '', birthdate = $2, active = false"
        " WHERE learner_id = $1"
        " AND (ine IS NOT NULL OR first_name <> '' OR last_name <> '' OR birthdate <> $2 OR active)",
        learner_id,
        ERASED_BIRTHDATE,
    )
    candidates = await conn.execute(
        "UPDATE candidates SET ine = NULL, first_name = '', last_name = '', birthdate = $2"
        " WHERE learner_id = $1 AND (ine IS NOT NULL OR first_name <> '' OR last_name <> '' OR birthdate <> $2)",
        learner_id,
        ERASED_BIRTHDATE,
    )
    documents = await conn.execute(
        "DELETE FROM rendered_documents d USING candidates k JOIN sessions s USING (session_id)"
        " WHERE k.learner_id = $1 AND (d.key LIKE 'session:' || s.session_id::text || ':%'"
        " OR d.key = 'day:' || s.uai || ':' || s.day::text)",
        learner_id,
    )
    return _count(learners) + _count(candidates) + _count(documents)
