"""Seeded, realistic school data in the exact Pix / SIECLE file formats, written as a school would.

The main job's driver (deploy/local/academie.py) uploads these bytes to eligibility, and the unit,
component and benchmark tests feed the same bytes to eligibility's parsers. It lives beside the driver,
not in a service's domain: it is a *client* of certibus, so it depends only on shared/contracts (UAI
and INE check letters, the Pix referential) and writes the published formats itself (the Pix Orga
learner template, the SIECLE BEE_ELEVES export, the Pix Orga profile-collection export); a parser that
drifts from those formats then fails the tests instead of silently agreeing with its own writer.
Same seed → same bytes. Past 400 lines on purpose: the three formats' writers share the learners and
their identity rules, and read best side by side.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from xml.sax.saxutils import escape

from shared.contracts.identifiers import ALPHABET23, IneKind, mod23_letter
from shared.contracts.referential import COMPETENCE_IDS, COMPETENCES

#: Pix's rules as published (pix-domain.md): 8 pix per level, certifiable with 5 competences at level ≥ 1.
PIX_PER_LEVEL = 8
MIN_CERTIFIABLE_COMPETENCES = 5

#: The Pix Orga learner import template, in its column order (newer order: Code sexe after Nom d'usage).
PIX_LEARNER_HEADERS: dict[str, str] = {
    "ine": "Identifiant unique*",
    "first_name": "Premier prénom*",
    "second_name": "Deuxième prénom",
    "third_name": "Troisième prénom",
    "last_name": "Nom de famille*",
    "usage_name": "Nom d'usage",
    "sex": "Code sexe*",
    "birth_date": "Date de naissance (jj/mm/aaaa)*",
    "birth_city_code": "Code commune naissance**",
    "birth_city": "Libellé commune naissance**",
    "birth_department_code": "Code département naissance*",
    "birth_country_code": "Code pays naissance*",
    "status": "Statut*",
    "mef_code": "Code MEF*",
    "division": "Division*",
}

#: The Pix Orga profile-collection export's headers.
HEADER_ORGANISATION = "Nom de l'organisation"
HEADER_CAMPAIGN_ID = "ID Campagne"
HEADER_CODE = "Code"
HEADER_CAMPAIGN_NAME = "Nom de la campagne"
HEADER_LAST_NAME = "Nom du Participant"
HEADER_FIRST_NAME = "Prénom du Participant"
HEADER_DIVISION = "Classe"
HEADER_SHARED = "Envoi (O/N)"
HEADER_SHARED_AT = "Date de l'envoi"
HEADER_TOTAL_PIX = "Nombre de pix total"
HEADER_CERTIFIABLE = "Certifiable (O/N)"
HEADER_CERTIFIABLE_COUNT = "Nombre de compétences certifiables"
LEVEL_PREFIX = "Niveau pour la compétence "
PIX_PREFIX = "Nombre de pix pour la compétence "
#: The header line of the Pix Orga certificability file certibus documents (README: Orga has no export).
ORGA_CERTIFICABILITY_HEADER = "INE;Certificabilité;Date de certificabilité"
#: Pix Orga's three labels of its "Certificabilité" column.
ORGA_LABELS = {True: "Certifiable", False: "Non certifiable", None: "Non communiqué"}


class Sex(StrEnum):
    """As the Pix learner CSV writes it (the SIECLE XML writes 1 / 2)."""

    MALE = "M"
    FEMALE = "F"


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def name_key(value: str) -> str:
    """How Pix reconciles names (letters and digits, no accents, lower case): two generated learners
    of one school never share a key, so no import sees them as one person."""
    decomposed = unicodedata.normalize("NFKD", value)
    return _NOT_ALNUM.sub("", "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold())


@dataclass(frozen=True, slots=True)
class Learner:
    """One learner as a SIECLE roster carries them (the fields of the Pix learner template)."""

    ine: str
    first_name: str
    last_name: str
    birth_date: date
    sex: Sex
    division: str
    mef_code: str
    status: str
    birth_country_code: str
    birth_department_code: str
    birth_city_code: str = ""
    birth_city: str = ""
    second_name: str = ""
    third_name: str = ""
    usage_name: str = ""

    @property
    def identity_key(self) -> tuple[str, str, date]:
        """Same person in one school: last name + first name + birth date, as Pix compares them."""
        return (name_key(self.last_name), name_key(self.first_name), self.birth_date)


LAST_NAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
    "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
    "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Müller", "Faure", "André", "Mercier",
    "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin",
    "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
    "N'Diaye", "Nguyen", "Da Silva", "Le Gall", "Saint-Martin", "Ben Ahmed", "Öztürk", "Kowalski",
)  # fmt: skip
FIRST_NAMES_F = (
    "Emma", "Jade", "Louise", "Alice", "Chloé", "Lina", "Léa", "Rose", "Anna", "Mila", "Inès", "Ambre",
    "Julia", "Zoé", "Léna", "Agathe", "Juliette", "Manon", "Camille", "Maëlys", "Éloïse", "Anaïs", "Nour",
)  # fmt: skip
FIRST_NAMES_M = (
    "Gabriel", "Léo", "Raphaël", "Arthur", "Louis", "Jules", "Adam", "Maël", "Lucas", "Hugo", "Noah",
    "Liam", "Sacha", "Mohamed", "Ethan", "Nathan", "Théo", "Enzo", "Timéo", "Noé", "Jean-Baptiste", "Yanis",
)  # fmt: skip
BIRTH_CITIES = (
    ("21231", "DIJON", "021"), ("21054", "BEAUNE", "021"), ("71270", "MACON", "071"),
    ("58194", "NEVERS", "058"), ("89024", "AUXERRE", "089"), ("75056", "PARIS", "075"),
    ("69123", "LYON", "069"), ("2A004", "AJACCIO", "02A"), ("97411", "SAINT-DENIS", "974"),
)  # fmt: skip
BIRTH_ABROAD = (("351", "ALGER"), ("350", "CASABLANCA"), ("134", "MADRID"), ("139", "PORTO"))
#: (division prefix, MEF code, age in years at the start of the school year)
LEVELS = (
    ("6", "10010012110", 11),
    ("5", "10110001110", 12),
    ("4", "10210001110", 13),
    ("3", "10310019110", 14),
)


def random_uai(rng: random.Random, department: str | None = None) -> str:
    """A UAI with a correct check letter; department as three digits (e.g. '021'), random if None."""
    department = department or f"{rng.choice([*range(1, 96), *range(971, 977)]):03d}"
    digits = department + f"{rng.randrange(10_000):04d}"
    return digits + mod23_letter(digits)


def random_ine(rng: random.Random, kind: IneKind = IneKind.BEA) -> str:
    """An INE of the given family; BEA ones carry a valid check letter."""
    if kind is IneKind.BEA:
        digits = f"{rng.randrange(10**10):010d}"
        return digits + mod23_letter(digits)
    if kind is IneKind.RNIE:
        return f"{rng.randrange(10**9):09d}" + "".join(rng.choices(ALPHABET23, k=2))
    return f"{rng.randrange(10**4):04d}A{rng.randrange(10**5):05d}{rng.choice(ALPHABET23)}"


def generate_learners(
    seed: int,
    count: int,
    *,
    school_year: int = 2025,
    classes_per_level: int | None = None,
    levels: tuple[tuple[str, str, int], ...] = LEVELS,
) -> list[Learner]:
    """`count` distinct learners spread over `levels` (collège 6e–3e by default) in classes of ~28,
    unique INEs and identities. `levels` are (division prefix, MEF code, age), as LEVELS."""
    rng = random.Random(seed)
    per_level = classes_per_level or max(1, -(-count // (28 * len(levels))))
    learners: list[Learner] = []
    ines: set[str] = set()
    identities: set[tuple[str, str, date]] = set()
    while len(learners) < count:
        prefix, mef, age = levels[len(learners) % len(levels)]
        sex = rng.choice((Sex.FEMALE, Sex.MALE))
        first = rng.choice(FIRST_NAMES_F if sex is Sex.FEMALE else FIRST_NAMES_M)
        last = rng.choice(LAST_NAMES)
        born = date(school_year - age, 1, 1) + timedelta(days=rng.randrange(365))
        ine = random_ine(rng, IneKind.RNIE if rng.random() < 0.6 else IneKind.BEA)
        learner = Learner(
            ine=ine,
            first_name=first,
            last_name=last,
            birth_date=born,
            sex=sex,
            division=f"{prefix}{chr(ord('A') + rng.randrange(per_level) % 26)}",
            mef_code=mef,
            status="ST",
            birth_country_code="100",
            birth_department_code="",
        )
        if rng.random() < 0.05:
            country, city = rng.choice(BIRTH_ABROAD)
            learner = replace(
                learner, birth_country_code=country, birth_department_code="099", birth_city=city
            )
        else:
            code, city, department = rng.choice(BIRTH_CITIES)
            learner = replace(
                learner, birth_city_code=code, birth_city=city, birth_department_code=department
            )
        if rng.random() < 0.3:
            learner = replace(
                learner, second_name=rng.choice(FIRST_NAMES_F if sex is Sex.FEMALE else FIRST_NAMES_M)
            )
        if rng.random() < 0.03:
            learner = replace(learner, usage_name=rng.choice(LAST_NAMES))
        if ine in ines or learner.identity_key in identities:
            continue
        ines.add(ine)
        identities.add(learner.identity_key)
        learners.append(learner)
    return learners


def _csv_cell(value: str, delimiter: str) -> str:
    if delimiter in value or '"' in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def learner_csv_bytes(
    learners: list[Learner],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8",
    bom: bool = False,
    line_ending: str = "\n",
) -> bytes:
    """The Pix Orga learner import template (newer column order: Code sexe after Nom d'usage)."""
    lines = [delimiter.join(_csv_cell(h, delimiter) for h in PIX_LEARNER_HEADERS.values())]
    for learner in learners:
        values = {
            "ine": learner.ine,
            "first_name": learner.first_name,
            "second_name": learner.second_name,
            "third_name": learner.third_name,
            "last_name": learner.last_name,
            "usage_name": learner.usage_name,
            "sex": learner.sex.value,
            "birth_date": learner.birth_date.strftime("%d/%m/%Y"),
            "birth_city_code": learner.birth_city_code,
            "birth_city": learner.birth_city,
            "birth_department_code": learner.birth_department_code,
            "birth_country_code": learner.birth_country_code,
            "status": learner.status,
            "mef_code": learner.mef_code,
            "division": learner.division,
        }
        lines.append(delimiter.join(_csv_cell(values[f], delimiter) for f in PIX_LEARNER_HEADERS))
    text = line_ending.join(lines) + line_ending
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def siecle_xml_bytes(
    learners: list[Learner],
    uai: str,
    *,
    encoding: str = "ISO-8859-15",
    left_school: frozenset[str] = frozenset(),
) -> bytes:
    """A SIECLE BEE_ELEVES export ("ElevesSansAdresses") for these learners; INEs in `left_school`
    get a DATE_SORTIE. Sex is written 1/2 as SIECLE does."""
    students, structures = [], []
    for number, learner in enumerate(learners, start=1000):
        sortie = "<DATE_SORTIE>15/11/2025</DATE_SORTIE>" if learner.ine in left_school else ""
        students.append(
            f'<ELEVE ELEVE_ID="{number}" ELENOET="{number}">'
            f"<ID_NATIONAL>{learner.ine}</ID_NATIONAL>"
            f"<NOM_DE_FAMILLE>{escape(learner.last_name)}</NOM_DE_FAMILLE>"
            f"<NOM_USAGE>{escape(learner.usage_name)}</NOM_USAGE>"
            f"<PRENOM>{escape(learner.first_name)}</PRENOM><PRENOM2>{escape(learner.second_name)}</PRENOM2>"
            f"<PRENOM3>{escape(learner.third_name)}</PRENOM3>"
            f"<DATE_NAISS>{learner.birth_date:%d/%m/%Y}</DATE_NAISS>"
            f"<CODE_SEXE>{1 if learner.sex is Sex.MALE else 2}</CODE_SEXE>"
            f"<CODE_PAYS>{learner.birth_country_code}</CODE_PAYS>"
            f"<CODE_DEPARTEMENT_NAISS>{learner.birth_department_code}</CODE_DEPARTEMENT_NAISS>"
            f"<CODE_COMMUNE_INSEE_NAISS>{learner.birth_city_code}</CODE_COMMUNE_INSEE_NAISS>"
            f"<VILLE_NAISS>{escape(learner.birth_city)}</VILLE_NAISS>"
            f"<CODE_MEF>{learner.mef_code}</CODE_MEF>{sortie}</ELEVE>"
        )
        structures.append(
            f'<STRUCTURES_ELEVE ELEVE_ID="{number}" ELENOET="{number}">'
            f"<STRUCTURE><CODE_STRUCTURE>{escape(learner.division)}</CODE_STRUCTURE>"
            "<TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE>"
            "<STRUCTURE><CODE_STRUCTURE>LV2ESP</CODE_STRUCTURE><TYPE_STRUCTURE>G</TYPE_STRUCTURE></STRUCTURE>"
            "</STRUCTURES_ELEVE>"
        )
    xml = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<BEE_ELEVES VERSION="3.1">\n'
        f"<PARAMETRES><UAJ>{uai}</UAJ><ANNEE_SCOLAIRE>2025</ANNEE_SCOLAIRE>"
        "<DATE_EXPORT>02/12/2025</DATE_EXPORT><HORODATAGE>02/12/2025 10:00:00</HORODATAGE></PARAMETRES>\n"
        "<DONNEES>\n<ELEVES>\n" + "\n".join(students) + "\n</ELEVES>\n"
        "<STRUCTURES>\n" + "\n".join(structures) + "\n</STRUCTURES>\n</DONNEES>\n</BEE_ELEVES>\n"
    )
    return xml.encode(encoding)


@dataclass(frozen=True, slots=True)
class Participation:
    """One learner's participation in a profile-collection campaign, as Pix would export it."""

    last_name: str
    first_name: str
    division: str
    ine: str
    shared: bool
    shared_at: date | None = None
    pix: tuple[int, ...] = ()  # per competence, framework order; () when not shared

    @property
    def levels(self) -> dict[str, int]:
        return {cid: level_from_pix(p) for cid, p in zip(COMPETENCE_IDS, self.pix, strict=True)}

    @property
    def certifiable_count(self) -> int:
        """Competences at level ≥ 1."""
        return sum(level >= 1 for level in self.levels.values())


def generate_participations(
    seed: int,
    learners: list[Learner],
    *,
    share_rate: float = 0.85,
    certifiable_rate: float = 0.7,
    shared_from: date = date(2025, 11, 3),
) -> list[Participation]:
    """One participation per learner; shared ones are certifiable with probability `certifiable_rate`."""
    rng = random.Random(seed)
    result: list[Participation] = []
    for learner in learners:
        if rng.random() >= share_rate:
            result.append(
                Participation(learner.last_name, learner.first_name, learner.division, learner.ine, False)
            )
            continue
        wanted = (
            rng.randint(MIN_CERTIFIABLE_COMPETENCES, 16)
            if rng.random() < certifiable_rate
            else rng.randint(0, MIN_CERTIFIABLE_COMPETENCES - 1)
        )
        strong = set(rng.sample(range(16), wanted))
        pix = tuple(
            rng.randint(PIX_PER_LEVEL, 5 * PIX_PER_LEVEL)
            if i in strong
            else rng.randint(0, PIX_PER_LEVEL - 1)
            for i in range(16)
        )
        shared_at = shared_from + timedelta(days=rng.randrange(30))
        result.append(
            Participation(
                learner.last_name, learner.first_name, learner.division, learner.ine, True, shared_at, pix
            )
        )
    return result


def level_from_pix(pix: int) -> int:
    return pix // PIX_PER_LEVEL


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def campaign_csv_bytes(
    participations: list[Participation],
    *,
    organisation: str = "Collège Jean Moulin",
    campaign_id: int = 4242,
    campaign_code: str | None = "PROCOL123",
    campaign_name: str = "Collecte de profils 3e",
    external_id_label: str | None = "INE",
    with_division: bool = True,
    competence_names: dict[str, str] | None = None,
) -> bytes:
    """The Pix Orga profile-collection export: UTF-8 BOM, `;`, quoted headers and text, `\\n`.

    Numbers are unquoted; values that only exist for a shared profile are "NA" otherwise.
    `competence_names` overrides names by id (to test aliases or unknown competences).
    """
    names = {c.id: c.name for c in COMPETENCES} | (competence_names or {})
    header = [HEADER_ORGANISATION, HEADER_CAMPAIGN_ID]
    header += [HEADER_CODE] if campaign_code is not None else []
    header += [HEADER_CAMPAIGN_NAME, HEADER_LAST_NAME, HEADER_FIRST_NAME]
    header += [HEADER_DIVISION] if with_division else []
    header += [external_id_label] if external_id_label else []
    header += [
        HEADER_SHARED,
        HEADER_SHARED_AT,
        HEADER_TOTAL_PIX,
        HEADER_CERTIFIABLE,
        HEADER_CERTIFIABLE_COUNT,
    ]
    for cid in COMPETENCE_IDS:
        header += [LEVEL_PREFIX + names[cid], PIX_PREFIX + names[cid]]
    lines = [";".join(_quoted(h) for h in header)]
    na = _quoted("NA")
    for p in participations:
        cells = [_quoted(organisation), str(campaign_id)]
        cells += [_quoted(campaign_code)] if campaign_code is not None else []
        cells += [_quoted(campaign_name), _quoted(p.last_name), _quoted(p.first_name)]
        cells += [_quoted(p.division)] if with_division else []
        cells += [_quoted(p.ine)] if external_id_label else []
        if p.shared and p.shared_at is not None:
            count = p.certifiable_count
            cells += [_quoted("Oui"), _quoted(p.shared_at.isoformat()), str(sum(p.pix))]
            cells += [_quoted("Oui" if count >= MIN_CERTIFIABLE_COMPETENCES else "Non"), str(count)]
            for pix in p.pix:
                cells += [str(level_from_pix(pix)), str(pix)]
        else:
            cells += [_quoted("Non"), na, na, na, na] + [na] * (2 * len(COMPETENCE_IDS))
        lines.append(";".join(cells))
    return b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class OrgaCertificability:
    """One learner's line of the Orga certificability file: Orga's verdict and its date."""

    ine: str
    certifiable: bool | None  # None: "Non communiqué" (no date)
    certifiable_at: date | None = None


def generate_orga_certificability(
    seed: int,
    learners: list[Learner],
    *,
    certifiable_rate: float = 0.85,
    not_available_rate: float = 0.05,
    computed_from: date = date(2025, 11, 17),
) -> list[OrgaCertificability]:
    """One line per learner, drawn from ``seed``: Orga's nightly verdict within a fortnight."""
    rng = random.Random(seed)
    rows: list[OrgaCertificability] = []
    for learner in learners:
        if rng.random() < not_available_rate:
            rows.append(OrgaCertificability(learner.ine, None))
            continue
        certifiable = rng.random() < certifiable_rate
        rows.append(
            OrgaCertificability(learner.ine, certifiable, computed_from + timedelta(days=rng.randrange(14)))
        )
    return rows


def orga_certificability_csv_bytes(rows: list[OrgaCertificability]) -> bytes:
    """The documented file: UTF-8, `;`, the header line, dates JJ/MM/AAAA, `\\n` line ends."""
    lines = [ORGA_CERTIFICABILITY_HEADER]
    for row in rows:
        when = row.certifiable_at.strftime("%d/%m/%Y") if row.certifiable_at else ""
        lines.append(f"{row.ine};{ORGA_LABELS[row.certifiable]};{when}")
    return ("\n".join(lines) + "\n").encode("utf-8")
