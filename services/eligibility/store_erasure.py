"""SQL of a learner's erasure in the eligibility schema (README, *Erasing a learner*).

Kept apart from store.py (already all of the service's other SQL): the learner row keeps its id,
school, class, MEF, status, activity and assessment, so every count stays; its names, INE, birth
date and place and sex are erased, and so are the rows of campaign reports that named it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.erasure import ERASED_BIRTHDATE


@dataclass(frozen=True, slots=True)
class ErasableLearner:
    """The learner an erasure request names, found in its school (``erased``: done before)."""

    learner_id: str
    uai: str
    erased: bool


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class ErasureStore:
    """The eligibility schema's erasure queries over one transaction's connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def find(self, uai: str, *, learner_id: str | None, ine: str | None) -> ErasableLearner | None:
        """The school's learner with this id or INE (an erased one is found by its id only)."""
        learner_uuid = _as_uuid(learner_id) if learner_id else None
        if learner_id and learner_uuid is None:
            return None
        row = await self.conn.fetchrow(
            "SELECT l.learner_id, l.uai, e.learner_id IS NOT NULL AS erased"
            " FROM learners l LEFT JOIN erased_learners e ON e.learner_id = l.learner_id::text"
            " WHERE l.uai = $1 AND ($2::uuid IS NULL OR l.learner_id = $2)"
            " AND ($3::text IS NULL OR upper(l.ine) = upper($3)) FOR UPDATE OF l",
            uai,
            learner_uuid,
            ine,
        )
        return ErasableLearner(str(row["learner_id"]), row["uai"], row["erased"]) if row else None

    async def erase_tables(self, conn: asyncpg.Connection, learner_id: str) -> int:
        """Erase the learner in every eligibility table; rows changed (shared.erasure.EraseTables)."""
        learner = await conn.fetchrow(
            "SELECT uai, ine, first_name, last_name FROM learners WHERE learner_id = $1",
            uuid.UUID(learner_id),
        )
        if learner is None:
            return 0
        status = await conn.execute(
            "UPDATE learners SET ine = NULL, first_name = '', second_name = '', third_name = '',"
            " last_name = '', usage_name = '', birth_date = $2, sex = NULL, birth_city_code = '',"
            " birth_city = '', birth_department_code = '', birth_country_code = ''"
            " WHERE learner_id = $1 AND (ine IS NOT NULL OR first_name <> '' OR last_name <> ''"
            " OR birth_date <> $2 OR sex IS NOT NULL OR birth_city <> '' OR birth_city_code <> '')",
            uuid.UUID(learner_id),
            ERASED_BIRTHDATE,
        )
        changed = int(status.split()[-1])
        return changed + await self._erase_campaign_reports(conn, learner_id, dict(learner))

    async def _erase_campaign_reports(self, conn: asyncpg.Connection, learner_id: str, learner: dict) -> int:
        """Unmatched or ambiguous campaign rows that are the learner's (by INE, names or candidate id)."""
        rows = await conn.fetch(
            "SELECT import_id, unmatched, ambiguous FROM campaign_imports WHERE uai = $1", learner["uai"]
        )
        changed = 0
        for row in rows:
            unmatched, n = _erase_rows(row["unmatched"], learner_id, learner)
            ambiguous, m = _erase_rows(row["ambiguous"], learner_id, learner)
            if n or m:
                await conn.execute(
                    "UPDATE campaign_imports SET unmatched = $2, ambiguous = $3 WHERE import_id = $1",
                    row["import_id"],
                    json.dumps(unmatched),
                    json.dumps(ambiguous),
                )
                changed += 1
        return changed


def _names(value: Any) -> str:
    return str(value or "").strip().casefold()


def _erase_rows(entries: Any, learner_id: str, learner: dict) -> tuple[list, int]:
    """Report rows with the learner's personal values blanked, and how many were the learner's."""
    entries = json.loads(entries) if isinstance(entries, str) else list(entries or [])
    ine = _names(learner["ine"])
    out, changed = [], 0
    for entry in entries:
        theirs = (
            learner_id in (entry.get("candidate_learner_ids") or [])
            or (ine and _names(entry.get("external_id")) == ine)
            or (
                _names(learner["last_name"])
                and (_names(entry.get("last_name")), _names(entry.get("first_name")))
                == (_names(learner["last_name"]), _names(learner["first_name"]))
            )
        )
        if theirs:
            entry = {**entry, "last_name": "", "first_name": "", "external_id": None}
            changed += 1
        out.append(entry)
    return out, changed
