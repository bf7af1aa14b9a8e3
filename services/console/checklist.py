"""The Phase 3 card of a school, step by step, from what the services answer (pure: no I/O).

The five steps are the ones of Pix's Phase 3 (the académie view shows the same card to operators):
each gets a status, what is done and left in words, and the day it is due, from the scheduler's
checklist and sessions and the export service's files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

#: days after a session by which it must be finalised (finalisation's FINALISATION_OVERDUE_DAYS default)
FINALISE_WITHIN_DAYS = 2

DONE, IN_PROGRESS, TODO, LATE = "done", "in_progress", "todo", "late"
#: status → (label, DSFR badge modifier)
BADGES = {
    DONE: ("Fait", "fr-badge--success"),
    IN_PROGRESS: ("En cours", "fr-badge--info"),
    TODO: ("À faire", "fr-badge--new"),
    LATE: ("En retard", "fr-badge--error"),
}


@dataclass(frozen=True)
class Step:
    title: str
    status: str
    detail: str
    due: dt.date | None = None

    @property
    def badge(self) -> tuple[str, str]:
        return BADGES[self.status]


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def _progress(done: int, total: int, today: dt.date, due: dt.date | None) -> str:
    if total and done == total:
        return DONE
    if due is not None and due < today:
        return LATE
    return IN_PROGRESS if done else TODO


def phase3_steps(
    checklist: dict[str, Any], sessions: list[dict[str, Any]], exports: dict[str, Any], today: dt.date
) -> list[Step]:
    """The card's five steps. ``sessions`` are the scheduler's session details (with ``documents``)."""
    live = [s for s in sessions if s.get("status") == "scheduled"]
    dates = sorted(dt.date.fromisoformat(s["date"]) for s in live)
    calendar = checklist.get("calendar") or {}
    opening = _date(calendar.get("pix_certif_opening"))
    window_end = _date((calendar.get("window") or {}).get("end"))

    kit = Step(
        "Consulter le kit de certification",
        DONE if live else TODO,
        f"{len(live)} session(s) planifiée(s) : convocations, feuilles d'émargement et kit du surveillant"
        " sont sur la page de chaque session"
        if live
        else "Aucune session planifiée : le kit de chaque session est disponible une fois la session créée",
        opening,
    )
    # the scheduler lists a session's issued papers once its convocations went out (POST …/convocations)
    convoked = [s for s in live if s.get("documents")]
    not_convoked = sorted(dt.date.fromisoformat(s["date"]) for s in live if s not in convoked)
    convoke = Step(
        "Convoquer les élèves",
        _progress(len(convoked), len(live), today, not_convoked[0] if not_convoked else None),
        f"{len(convoked)} session(s) convoquée(s) sur {len(live)}",
        not_convoked[0] if not_convoked else None,
    )
    started = [s for s in live if s.get("started")]
    supervise = Step(
        "Superviser les sessions",
        _progress(len(started), len(live), today, None),
        f"{len(started)} session(s) démarrée(s) sur {len(live)}",
        dates[-1] if dates else None,
    )
    finalised = [s for s in live if s.get("finalised_at")]
    waiting = sorted(dt.date.fromisoformat(s["date"]) for s in started if not s.get("finalised_at"))
    finalise_due = waiting[0] + dt.timedelta(days=FINALISE_WITHIN_DAYS) if waiting else None
    finalise = Step(
        "Finaliser les sessions dans Pix Certif",
        _progress(len(finalised), len(live), today, finalise_due),
        f"{len(finalised)} session(s) finalisée(s) sur {len(live)}",
        finalise_due,
    )
    livret = next((f for f in exports.get("files", []) if f.get("kind") == "livret"), None)
    results = Step(
        "Importer les résultats dans le livret",
        DONE if livret else TODO,
        f"fichier du livret produit le {_date(livret['produced_at']):%d/%m/%Y} ({livret['items']} résultat(s))"
        if livret
        else "Le fichier du livret (LSU/LSL) est produit dès que Pix a publié les résultats",
        window_end,
    )
    return [kit, convoke, supervise, finalise, results]
