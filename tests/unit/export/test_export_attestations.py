import io
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from services.export.domain.attestations import (
    NO_GLOBAL_LEVEL,
    NoValidatedCertificate,
    global_level_label,
    render_attestations_pdf,
)
from services.export.domain.records import ResultStatus


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def certificate(make, key, certification_id, **overrides):
    return make.result(make.candidate(make.learner(key)), certification_id, **overrides)


def test_one_page_per_validated_published_certificate_with_extractable_text(make):
    zoe = certificate(
        make,
        "zoe",
        1,
        first_name="Zoé",
        last_name="Lefèvre-Œuvray",
        birthdate=date(2010, 2, 3),
        taken_at=datetime(2024, 3, 12, 9, tzinfo=UTC),
        pix_score=520,
        competence_levels={"1.1": 6, "2.4": -1, "5.2": 4},
        verification_code="P-Y468ACDE",
    )
    other = certificate(make, "other", 2, pix_score=40, verification_code="P-ZZZZZZZZ", competence_levels={})
    excluded = [
        certificate(make, "rejected", 3, status=ResultStatus.REJECTED),
        certificate(make, "cancelled", 4, status=ResultStatus.CANCELLED),
        certificate(make, "pending", 5, published=False),
    ]
    texts = pages_text(render_attestations_pdf([zoe, *excluded, other]))
    assert len(texts) == 2
    first = texts[0]
    for expected in (
        "Attestation de certification Pix",
        "Zoé Lefèvre-Œuvray",
        "Né(e) le 03/02/2010",
        "Certification passée le 12/03/2024",
        "Centre de certification : Collège Kort Colin",
        "Score : 520 pix",
        "Niveau global : Avancé 5",
        "1. Information et données",
        "1.1 Mener une recherche et une veille d’information : niveau 6",
        "2.4 S’insérer dans le monde numérique : niveau 0",
        "3.4 Programmer : niveau -",
        "5.2 Construire un environnement numérique : niveau 4",
        "Code de vérification : P-Y468ACDE",
    ):
        assert expected in first, expected
    assert "P-ZZZZZZZZ" in texts[1] and NO_GLOBAL_LEVEL in texts[1]


def test_nothing_to_attest_is_an_error(make):
    with pytest.raises(NoValidatedCertificate):
        render_attestations_pdf([certificate(make, "x", 1, status=ResultStatus.REJECTED)])


def test_rendering_is_deterministic(make):
    results = [certificate(make, "a", 1), certificate(make, "b", 2)]
    assert render_attestations_pdf(results) == render_attestations_pdf(results)


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (63, NO_GLOBAL_LEVEL),
        (64, "Novice 1"),
        (200, "Novice 2"),
        (512, "Avancé 5"),
        (895, "Expert 7"),
        (1024, "Expert 8"),
    ],
)
def test_global_level_labels(score, label):
    assert global_level_label(score) == label


def test_characters_outside_the_pdf_font_are_transliterated(make):
    pdf = render_attestations_pdf([certificate(make, "l", 1, first_name="Łukasz")])
    assert "Lukasz" in pages_text(pdf)[0]
