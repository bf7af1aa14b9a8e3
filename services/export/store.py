"""SQL of the export schema, and nothing else: the read model fed by other services' events,
the exports log and the classes to rebuild, as ``ExportStore`` over a connection.

Every write is an upsert keyed by the upstream id, so applying the latest snapshot of something
twice (a redelivery, a Pix re-send, a replay) leaves the same rows. The writes take a consumer's
run of events at once (``unnest`` arrays, one statement per table, one row per id: the caller
keeps each id's latest snapshot, :mod:`services.export.usecases.read_model`). Loads return domain records
(:mod:`services.export.domain.records`) ready for the renderers, or typed rows; never an
``asyncpg.Record``. The use cases (services/export/usecases/) see only this class's methods, which
is what lets their tests swap in an in-memory store; ``transactions`` binds it to the platform's
unit of work. The class is mixed from ``store_<purpose>.py`` beside it: the roster, sessions and
enrolments (store_roster.py), results (store_results.py), loading a school (store_school.py), the
exports log and the classes to rebuild (store_exports.py); their public names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import asyncpg

from services.export.store_exports import ExportLogQueries, ExportRecord
from services.export.store_results import (
    RESULT_COLUMNS,
    ResultQueries,
    ResultRow,
    competence_array,
    result_row,
)
from services.export.store_roster import RosterQueries
from services.export.store_school import SchoolQueries, SchoolSnapshot, learner_record, result_record
from shared import usecases as shared_usecases
from shared.outbox import UnitOfWork

__all__ = [
    "RESULT_COLUMNS",
    "ExportRecord",
    "ExportStore",
    "ResultRow",
    "SchoolSnapshot",
    "StoreWork",
    "competence_array",
    "learner_record",
    "result_record",
    "result_row",
    "transactions",
]


class ExportStore(RosterQueries, ResultQueries, SchoolQueries, ExportLogQueries):
    """The export schema over one connection (a transaction's) or the pool (plain reads); each
    group's queries are in its store_<purpose>.py."""

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self.conn = conn


# -- the unit of work the use cases get --------------------------------------------------------


#: one transaction of the service: its store and its outbox (shared/usecases.py)
StoreWork = shared_usecases.StoreWork[ExportStore]


def transactions(
    begin: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
) -> Callable[[], AbstractAsyncContextManager[StoreWork]]:
    """A ``begin`` factory for the use cases from the platform's (``runtime.unit_of_work``)."""
    return shared_usecases.transactions(begin, ExportStore)
