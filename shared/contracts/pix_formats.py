"""Pix Orga's class results CSV (pix-domain.md §7.1): the format certibus writes (export) and reads
back from Pix (finalisation). One definition, so the writer and the reader cannot drift apart."""

from __future__ import annotations

from shared.contracts.referential import COMPETENCE_IDS

#: Columns of ``YYYYMMDD_resultats_{division}.csv``, in order (DivisionCertificationResultsCsvBuilder, fr).
CLASS_RESULTS_COLUMNS: tuple[str, ...] = (
    "Numéro de certification",
    "Prénom",
    "Nom",
    "Date de naissance",
    "Lieu de naissance",
    "Identifiant Externe",
    "Statut",
    "Nombre de Pix",
    *COMPETENCE_IDS,
    "Commentaire jury pour l’organisation",
    "Session",
    "Date de passage de la certification",
)

#: The exact header line: every title double-quoted, ``;``-separated (the file starts with a BOM).
CLASS_RESULTS_HEADER_LINE = ";".join(f'"{name}"' for name in CLASS_RESULTS_COLUMNS)

#: "Statut" labels by certibus result status (validated / rejected / cancelled / error / started).
CLASS_RESULTS_STATUS_LABELS: dict[str, str] = {
    "validated": "Validée",
    "rejected": "Rejetée",
    "cancelled": "Annulée",
    "error": "En erreur",
    "started": "Démarrée",
}
