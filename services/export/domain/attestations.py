"""The attestations PDF of a class: one A4 page per validated, published certificate.

Drawn with reportlab's built-in Helvetica, whose WinAnsi (cp1252) encoding covers French (é, è, ç,
œ, ’ …) and keeps the text extractable. Characters outside cp1252 (e.g. "Ł") would print as black
boxes, so they are transliterated (accents dropped, a few letters mapped, "?" as last resort);
an embedded Unicode font would lift this limit (open point). The PDF is built with reportlab's
``invariant`` mode: the same certificates give the same bytes.

V3 global levels: the keys and bands come from the shared referential; the French labels are only
confirmed for "Novice 1" (schools-lsu-calendar.md §2.3) — the others follow the same pattern and
live in :data:`GLOBAL_LEVEL_LABELS` so they can be corrected in one place. Below 64 pix there is no
global level (Pix PR #11885).
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from services.export.domain.class_csv import french_date, paris_day
from services.export.domain.records import CertificationResult, ResultStatus
from shared.contracts.referential import AREAS, COMPETENCES, v3_global_level
from shared.pdf_text import pdf_safe_text

GLOBAL_LEVEL_LABELS: dict[str, str] = {
    "LEVEL_BEGINNER_1": "Novice 1",
    "LEVEL_BEGINNER_2": "Novice 2",
    "LEVEL_INDEPENDENT_3": "Indépendant 3",
    "LEVEL_INDEPENDENT_4": "Indépendant 4",
    "LEVEL_ADVANCED_5": "Avancé 5",
    "LEVEL_ADVANCED_6": "Avancé 6",
    "LEVEL_EXPERT_7": "Expert 7",
    "LEVEL_EXPERT_8": "Expert 8",
}
NO_GLOBAL_LEVEL = "Pas de niveau global (moins de 64 pix)"
MIN_SCORE_FOR_GLOBAL_LEVEL = 64


class NoValidatedCertificate(ValueError):
    """The class has no validated, published certificate: there is nothing to attest."""


def global_level_label(pix_score: int) -> str:
    """The French global level shown on a certificate for a V3 score."""
    if pix_score < MIN_SCORE_FOR_GLOBAL_LEVEL:
        return NO_GLOBAL_LEVEL
    return GLOBAL_LEVEL_LABELS[v3_global_level(pix_score)]


def competence_level_text(result: CertificationResult, competence_id: str) -> str:
    """Level as printed: "-" when not tested, 0 for a failed (≤ 0) competence."""
    level = result.level_of(competence_id)
    if level is None:
        return "-"
    return str(max(level, 0))


def is_attestable(result: CertificationResult) -> bool:
    return result.published and result.status is ResultStatus.VALIDATED


def _draw_certificate(canvas: Canvas, result: CertificationResult) -> None:
    _, height = A4
    left = 60
    y = height - 80

    def line(text: str, size: float = 11, bold: bool = False, gap: float = 18) -> None:
        nonlocal y
        canvas.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        canvas.drawString(left, y, pdf_safe_text(text))
        y -= gap

    line("Attestation de certification Pix", size=20, bold=True, gap=36)
    line(f"{result.first_name} {result.last_name}", size=16, bold=True, gap=24)
    line(f"Né(e) le {french_date(result.birthdate)}")
    line(f"Certification passée le {french_date(paris_day(result.taken_at))}")
    line(f"Centre de certification : {result.certification_center}", gap=30)
    score = result.pix_score or 0
    line(f"Score : {score} pix", size=14, bold=True, gap=20)
    line(f"Niveau global : {global_level_label(score)}", size=12, gap=30)

    line("Niveau par compétence", size=13, bold=True, gap=20)
    for area in AREAS:
        line(f"{area.id}. {area.name}", size=11, bold=True, gap=16)
        for competence in COMPETENCES:
            if competence.area_id == area.id:
                level = competence_level_text(result, competence.id)
                line(f"    {competence.id} {competence.name} : niveau {level}", size=10, gap=14)
        y -= 6

    y = 80
    line(f"Code de vérification : {result.verification_code or '-'}", size=12, bold=True)
    canvas.showPage()


def render_attestations_pdf(
    results: Iterable[CertificationResult], *, title: str = "Attestations Pix"
) -> bytes:
    """One page per validated, published certificate among ``results``, in the given order.

    Raises :class:`NoValidatedCertificate` when there is none (Pix answers "no results" then).
    """
    certificates = [r for r in results if is_attestable(r)]
    if not certificates:
        raise NoValidatedCertificate("no validated, published certificate to attest")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(pdf_safe_text(title))
    canvas.setAuthor("certibus")
    for result in certificates:
        _draw_certificate(canvas, result)
    canvas.save()
    return buffer.getvalue()
