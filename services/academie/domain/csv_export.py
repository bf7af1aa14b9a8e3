"""The académie view as a CSV file, one line per school, for the rectorat's spreadsheets.

``;``-separated, UTF-8 (no BOM), a header line, ``\\r\\n`` line ends, as Pix Orga's own exports;
dates are the day in France (Europe/Paris) each step was reached, ``YYYY-MM-DD``, empty when not
reached; the rate is a decimal with a comma (a French spreadsheet reads it as a number), empty
without a roster. The columns (``HEADER``) are part of the API: the tests pin them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from services.academie.domain.card import STEP_LABELS, STEPS
from services.academie.domain.schools import TYPE_LABELS, SchoolProgress

FRANCE = ZoneInfo("Europe/Paris")

HEADER = (
    "UAI",
    "Nom",
    "Type",
    "Étape",
    "Sessions",
    "Candidats",
    "Sessions convoquées",
    "Sessions tenues",
    "Sessions finalisées",
    "Sessions avec résultats",
    "Résultats",
    "Planifié le",
    "Convoqué le",
    "Sessions tenues le",
    "Finalisé le",
    "Résultats reçus le",
    "Livret prêt le",
    "Finalisations en retard",
    "Élèves",
    "Certifiables",
    "Taux de certificabilité",
)


def day(moment: datetime | None) -> str:
    return moment.astimezone(FRANCE).date().isoformat() if moment else ""


def french_decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".replace(".", ",")


def row(school: SchoolProgress) -> list[str]:
    counts = {s.step: s.count for s in school.card}
    dates = [day(s.reached_at) for s in school.card]
    return [
        school.uai,
        school.name or "",
        TYPE_LABELS[school.type],
        STEP_LABELS[school.step],
        str(school.sessions),
        str(school.candidates),
        *(str(counts[step]) for step in STEPS[1:5]),
        str(school.results),
        *dates,
        str(school.overdue),
        str(school.learners),
        str(school.certifiable),
        french_decimal(school.certifiability_rate),
    ]


def render_csv(schools: Iterable[SchoolProgress]) -> bytes:
    """The file: header, then one line per school in the order given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(row(school) for school in schools)
    return buffer.getvalue().encode("utf-8")
