"""The finalisation service's codes in the words Pix Certif shows: issue report codes (the PV
d'incident's C1…E12), abort reasons, test states, and the API's refusal codes.

Presentation only: which report needs a description or a question number, and what is refused, is
the finalisation service's rule (its domain); the console only says it in French.
"""

from __future__ import annotations

from typing import Any

#: the PV d'incident's codes by category, as Pix Certif lists them (pix-domain §5.3)
ISSUE_CATEGORIES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Modification des informations du candidat",
        (
            ("C1", "C1 — Modification du prénom, du nom ou de la date de naissance"),
            ("C2", "C2 — Ajout ou modification du temps majoré"),
        ),
    ),
    ("Signature", (("C4", "C4 — Problème de signature sur la feuille d'émargement"),)),
    ("Fraude", (("C6", "C6 — Suspicion de fraude"),)),
    (
        "Problème non bloquant",
        (
            ("C7", "C7 — Problème technique non bloquant"),
            ("C8", "C8 — Problème lié au candidat, non bloquant"),
        ),
    ),
    (
        "Problème sur une question",
        (
            ("E1", "E1 — L'image ne s'affiche pas"),
            ("E2", "E2 — Le simulateur ou l'application ne s'affiche pas"),
            ("E3", "E3 — Le fichier à télécharger ne se charge pas"),
            ("E4", "E4 — Le site à visiter est indisponible ou inaccessible"),
            ("E5", "E5 — Le site est bloqué par les restrictions réseau de l'établissement"),
            ("E8", "E8 — Le temps majoré n'a pas suffi pour répondre"),
            ("E9", "E9 — Le logiciel installé sur l'ordinateur n'a pas fonctionné"),
            ("E10", "E10 — Le candidat a dû cliquer hors du cadre autorisé de l'épreuve"),
            ("E11", "E11 — Le candidat a cliqué sur « Je passe » après un problème technique"),
            ("E12", "E12 — Le candidat rencontre une difficulté d'accessibilité"),
        ),
    ),
)
ISSUE_LABELS = {code: label for _, codes in ISSUE_CATEGORIES for code, label in codes}
#: codes the whole room can have (the others are about one candidate)
ROOM_CODES = tuple(code for code in ISSUE_LABELS if code not in ("C1", "C2", "C4"))

ABORT_REASONS = {
    "candidate": "Abandon : manque de temps ou départ prématuré",
    "technical": "Problème technique",
}

TEST_STATES = {
    "not_started": "Non commencé",
    "started": "En cours",
    "completed": "Terminé",
    "ended_by_invigilator": "Terminé par le surveillant",
    "ended_due_to_finalisation": "Terminé à la finalisation",
}

#: the finalisation service's refusal codes, said to the person who filled the form
REFUSALS = {
    "auth.bad_password": "Numéro de session ou mot de passe incorrect.",
    "auth.too_many_attempts": "Trop de tentatives : réessayez dans {retry_after} secondes.",
    "auth.token_expired": "Votre accès à l'espace surveillant a expiré : reconnectez-vous.",
    "auth.invalid_token": "Votre accès à l'espace surveillant n'est plus valable : reconnectez-vous.",
    "auth.missing_token": "Connectez-vous à l'espace surveillant.",
    "auth.wrong_session": "Votre accès ouvre une autre session.",
    "session.unknown": "Cette session est inconnue du service de finalisation.",
    "session.finalised": "Cette session est déjà finalisée.",
    "session.expired": "Cette session est close : l'espace surveillant n'est plus ouvert.",
    "session.cancelled": "Cette session a été annulée.",
    "candidate.unknown": "Ce candidat n'est pas inscrit à la session.",
    "candidate.already_started": "Le test de ce candidat a déjà commencé.",
    "candidate.not_authorised": "Confirmez d'abord la présence du candidat.",
    "candidate.test_not_in_progress": "Le test de ce candidat n'est pas en cours.",
    "finalisation.no_started_test": (
        "Aucun test n'a commencé dans cette session : elle ne peut pas être finalisée."
    ),
    "finalisation.flags_required": "Répondez aux deux questions sur le déroulement de la session.",
    "finalisation.comment_too_long": "Le commentaire global dépasse 500 caractères.",
    "finalisation.candidates_unaccounted": "Des candidats inscrits ne sont ni présents ni absents.",
    "finalisation.duplicate_candidate_report": "Un candidat est déclaré deux fois.",
    "finalisation.incident_not_declared": (
        "Un incident a concerné toute la salle : cochez « Oui » à la question sur les incidents."
    ),
    "finalisation.started_candidate_absent": "Ce candidat a commencé son test : il ne peut pas être absent.",
    "finalisation.abort_reason_on_absent": "Un candidat absent n'a pas de raison d'abandon.",
    "finalisation.issue_report_on_absent": "Un candidat absent n'a pas de signalement.",
    "finalisation.abort_reason_on_completed_test": (
        "Ce candidat a terminé son test : il n'a pas de raison d'abandon."
    ),
    "finalisation.abort_reason_missing": (
        "Ce candidat n'a pas terminé son test : indiquez la raison de l'abandon."
    ),
    "finalisation.abort_reason_unknown": "Cette raison d'abandon est inconnue.",
    "issue_report.unknown_category": "Ce signalement n'est pas une catégorie de Pix.",
    "issue_report.description_required": "Ce signalement demande une description.",
    "issue_report.question_number_invalid": "Ce signalement demande le numéro de la question (de 1 à 500).",
    "issue_report.question_number_unexpected": "Ce signalement ne prend pas de numéro de question.",
    "issue_report.candidate_required": "Ce signalement concerne un candidat : choisissez lequel.",
    "request.invalid": "La demande est incomplète ou mal formée.",
}


def refusal(code: str, message: str, retry_after: str | None = None, **values: Any) -> str:
    """The French sentence of a refusal code; an unknown code keeps the service's own message."""
    sentence = REFUSALS.get(code)
    if sentence is None:
        return f"Refusé par le service ({code}) : {message}"
    return sentence.format(retry_after=retry_after or "quelques", **values)
