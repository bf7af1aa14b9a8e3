"""The Pix framework as it travels in events and exports: 16 competences in 5 areas.

Competence ids ("1.1" … "5.2") are part of the public event contracts (results carry a level per
competence id), which is why the referential lives in shared/contracts and not in one service.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Area:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Competence:
    id: str
    name: str
    area_id: str
    aliases: tuple[str, ...] = ()


AREAS: tuple[Area, ...] = (
    Area("1", "Information et données"),
    Area("2", "Communication et collaboration"),
    Area("3", "Création de contenu"),
    Area("4", "Protection et sécurité"),
    Area("5", "Environnement numérique"),
)

COMPETENCES: tuple[Competence, ...] = (
    Competence(
        "1.1",
        "Mener une recherche et une veille d’information",
        "1",
        ("Mener une recherche et une veille d'information",),
    ),
    Competence("1.2", "Gérer des données", "1"),
    Competence("1.3", "Traiter des données", "1"),
    Competence("2.1", "Interagir", "2"),
    Competence("2.2", "Partager et publier", "2"),
    Competence("2.3", "Collaborer", "2"),
    Competence(
        "2.4",
        "S’insérer dans le monde numérique",
        "2",
        (
            "S'insérer dans le monde numérique",
            "S'insérer dans un monde numérique",
            "S’insérer dans un monde numérique",
        ),
    ),
    Competence("3.1", "Développer des documents textuels", "3"),
    Competence("3.2", "Développer des documents multimédia", "3", ("Développer des documents multimedia",)),
    Competence("3.3", "Adapter les documents à leur finalité", "3"),
    Competence("3.4", "Programmer", "3"),
    Competence("4.1", "Sécuriser l’environnement numérique", "4", ("Sécuriser l'environnement numérique",)),
    Competence("4.2", "Protéger les données personnelles et la vie privée", "4"),
    Competence(
        "4.3",
        "Protéger la santé, le bien-être et l’environnement",
        "4",
        ("Protéger la santé, le bien-être et l'environnement",),
    ),
    Competence("5.1", "Résoudre des problèmes techniques", "5"),
    Competence(
        "5.2", "Construire un environnement numérique", "5", ("Évoluer dans un environnement numérique",)
    ),
)

COMPETENCE_IDS: tuple[str, ...] = tuple(c.id for c in COMPETENCES)

#: V3 global level keys and their Pix score bands (inclusive), from Pix's mesh configuration.
V3_GLOBAL_LEVELS: tuple[tuple[str, int, int], ...] = (
    ("LEVEL_PRE_BEGINNER", 0, 63),
    ("LEVEL_BEGINNER_1", 64, 127),
    ("LEVEL_BEGINNER_2", 128, 255),
    ("LEVEL_INDEPENDENT_3", 256, 383),
    ("LEVEL_INDEPENDENT_4", 384, 511),
    ("LEVEL_ADVANCED_5", 512, 639),
    ("LEVEL_ADVANCED_6", 640, 767),
    ("LEVEL_EXPERT_7", 768, 895),
    ("LEVEL_EXPERT_8", 896, 1024),
)

MAX_V3_SCORE = 1024
MAX_COMPETENCE_LEVEL = 8


def v3_global_level(pix_score: int) -> str:
    """The V3 global level key for a score; ValueError outside 0–1024."""
    for key, low, high in V3_GLOBAL_LEVELS:
        if low <= pix_score <= high:
            return key
    raise ValueError(f"pix score {pix_score} is outside 0–{MAX_V3_SCORE}")
