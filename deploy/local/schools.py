"""The schools of a generated académie: who certifies, in which rooms, with which staff and hours.

Three sizes (`--scale`): `demo` is today's few schools (three by default, the same UAIs and learners
for a given seed as before the scales existed); `college` ≈ 20 schools and 5,000 certifying students
(the fault and CI size); `academie` ≈ 400 schools and 200,000 certifying students, the size of
Versailles or Lille (issue 10). The two larger ones mix the three kinds of school that certify:
collèges (3e), lycées (terminales) and a few lycées professionnels (terminales pro, 2nd-year CAP and
BTS). Rooms and staff grow with the school so that its plan fits the calendar window; hours and
closures vary as they do between real schools. Everything is seeded: the same seed gives the same
académie, byte for byte.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from deploy.local.generator import Learner, generate_learners, random_uai

REPO = Path(__file__).resolve().parents[2]
#: the scheduler's calendar, read as a data file (the driver imports no service code)
CALENDAR_FILE = REPO / "services" / "scheduler" / "domain" / "calendar.json"

#: Pix Certif's opening dates of the packaged calendar may lie after the day the local run plans
#: (collèges: February). The run opens Pix Certif early for its schools, as Pix's whitelist of UAIs
#: (PIX_CERTIF_SCO_BLOCKED_ACCESS_WHITELIST) does, in its own copy of the calendar given to the
#: scheduler as an operator would (SCHEDULER_CALENDAR_FILE); the packaged file is not touched.
LOCAL_OPENING_SOURCE = "opened early for the local run (as Pix's UAI whitelist does)"


CITIES = ("Dijon", "Beaune", "Mâcon", "Nevers", "Auxerre", "Chalon-sur-Saône", "Sens", "Autun")
PATRONS = ("Jean Moulin", "Marie Curie", "Victor Hugo", "Colette", "Lamartine", "Pasteur")
#: the académie de Dijon's départements (Côte-d'Or, Nièvre, Saône-et-Loire, Yonne)
DEPARTMENTS = ("021", "058", "071", "089")
STAFF_NAMES = (
    "Mme Bernard", "M. Petit", "Mme Roux", "M. Moreau", "Mme Fournier", "M. Girard", "Mme Lambert",
    "M. Bonnet", "Mme Faure", "M. Mercier", "Mme Blanc", "M. Garnier", "Mme Chevalier", "M. Legrand",
)  # fmt: skip

#: certifying levels per kind of school: (division prefix, MEF code, age at the start of the year)
CERTIFYING_LEVELS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "college": (("3", "10310019110", 14),),
    "lycee": (("T", "20212012110", 17),),
    # bac pro in 3 years, year 3; CAP in 2 years, year 2; BTS in 2 years, year 2 (domain/mef.py's layout)
    "lycee_pro": (("TPRO", "24725007330", 17), ("2CAP", "24125005220", 17), ("BTS2", "31131101220", 19)),
}
TITLES = {"college": "Collège", "lycee": "Lycée", "lycee_pro": "Lycée professionnel"}


@dataclass(frozen=True)
class Scale:
    """How many schools and certifying students a `--scale` generates."""

    schools: int
    students: int  # in all (demo: per school, as --students)


SCALES = {
    "demo": Scale(schools=3, students=60),
    "college": Scale(schools=20, students=5_000),
    "academie": Scale(schools=400, students=200_000),
}


@dataclass
class School:
    uai: str
    name: str
    level: str  # "college" | "lycee": the scheduler's calendar track
    city: str
    learners: list[Learner] = field(default_factory=list)
    sessions: list[dict] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    kind: str = ""  # "college" | "lycee" | "lycee_pro"; "" for the demo's schools
    body: dict[str, Any] | None = None  # the scheduler's school set-up; None: the demo's default
    #: the school sends Pix Orga's certificability (README) instead of a campaign export: every third
    orga_certificability: bool = False

    @property
    def divisions(self) -> list[str]:
        """The certifying classes (3e, terminales, CAP, BTS): a SIECLE roster may hold more."""
        return sorted({learner.division for learner in self.learners})


def local_run_calendar(path: Path, today: date | None = None) -> Path:
    """A copy of the scheduler's calendar at ``path`` in which no Pix Certif opening is after ``today``."""
    today = today or date.today()
    data = json.loads(CALENDAR_FILE.read_text(encoding="utf-8"))
    for tracks in data["years"].values():
        for name in ("lycee", "college"):
            track = tracks.get(name)
            opening = track and track.get("pix_certif_opening")
            if opening and date.fromisoformat(opening) > today:
                track["pix_certif_opening"] = today.isoformat()
                track["pix_certif_opening_estimated"] = False
                track["source"] = f"{track.get('source', '')}; {LOCAL_OPENING_SOURCE}"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def generate_schools(seed: int, count: int, students: int) -> list[School]:
    """The demo's collèges and lycées with their certifying classes (3e, terminales), seeded."""
    rng = random.Random(seed)
    schools = []
    for i in range(count):
        level = "lycee" if i % 3 == 2 else "college"
        city = CITIES[i % len(CITIES)]
        name = f"{'Lycée' if level == 'lycee' else 'Collège'} {PATRONS[i % 6]} de {city}"
        # generate_learners spreads learners over 6e–3e; keep the certifying level and relabel it
        everyone = generate_learners(seed * 100 + i, students * 4)
        certifying = [lrn for lrn in everyone if lrn.division.startswith("3")][:students]
        if level == "lycee":
            certifying = [
                replace(
                    lrn,
                    division="T" + lrn.division[1:],
                    birth_date=lrn.birth_date.replace(year=lrn.birth_date.year - 3),
                    mef_code="20212012110",
                )
                for lrn in certifying
            ]
        school = School(
            random_uai(rng, "021"), name, level, city, certifying, orga_certificability=i % 3 == 1
        )
        schools.append(school)
    return schools


def generate_academie(seed: int, schools: int, students: int) -> list[School]:
    """`schools` schools (≈ 60 % collèges, 35 % lycées, 5 % lycées pro) totalling ≈ `students`
    certifying students, each with rooms, staff and hours sized to it. Unique UAIs, seeded."""
    rng = random.Random(seed)
    kinds = [_kind(i, schools) for i in range(schools)]
    weight = {"college": 0.8, "lycee": 1.3, "lycee_pro": 1.1}  # a lycée's terminales outnumber a 3e
    unit = students / sum(weight[k] for k in kinds)
    uais: set[str] = set()
    result = []
    for i, kind in enumerate(kinds):
        size = max(20, round(unit * weight[kind] * rng.uniform(0.6, 1.4)))
        uai = random_uai(rng, rng.choice(DEPARTMENTS))
        while uai in uais:
            uai = random_uai(rng, rng.choice(DEPARTMENTS))
        uais.add(uai)
        city = rng.choice(CITIES)
        name = f"{TITLES[kind]} {rng.choice(PATRONS)} de {city}"
        learners = generate_learners(seed * 1000 + i, size, levels=CERTIFYING_LEVELS[kind])
        school = School(
            uai,
            name,
            "college" if kind == "college" else "lycee",
            city,
            learners,
            kind=kind,
            orga_certificability=i % 3 == 1,
        )
        school.body = _school_set_up(school, rng)
        result.append(school)
    return result


def _kind(index: int, schools: int) -> str:
    """Interleaved so that any prefix of the académie has every kind: one school in 20 is a lycée
    professionnel, then two lycées in five of the others."""
    if index % 20 == 19:
        return "lycee_pro"
    return "lycee" if index % 5 in (2, 4) else "college"


def _school_set_up(school: School, rng: random.Random) -> dict[str, Any]:
    """Rooms (one computer room per ≈ 120 candidates, 18–32 working workstations), two staff per room,
    and hours: half the schools keep Wednesday afternoon closed, some start at 08:30."""
    size = len(school.learners)
    rooms = [{"name": "CDI", "workstations": rng.randint(16, 24)}]
    rooms += [
        {"name": f"Salle informatique {building}{number}", "workstations": rng.randint(18, 32)}
        for building, number in zip("BCDE" * 4, range(10, 30, 2), strict=False)
    ][: max(2, size // 120)]
    staff = [
        {"name": n, "availability": None} for n in STAFF_NAMES[: min(len(STAFF_NAMES), 2 * len(rooms) + 2)]
    ]
    both = ["morning", "afternoon"]
    open_days = {day: both for day in ("monday", "tuesday", "thursday", "friday")}
    open_days["wednesday"] = ["morning"] if rng.random() < 0.5 else both
    early = rng.random() < 0.7
    hours = {
        "morning": {"start": "08:00" if early else "08:30", "end": "12:00" if early else "12:30"},
        "afternoon": {"start": "13:30" if early else "14:00", "end": "17:30" if early else "17:00"},
        "open_half_days": open_days,
        "closures": [{"start": "2026-12-19", "end": "2027-01-03", "label": "Vacances de Noël"}]
        if school.level == "lycee"
        else [{"start": "2027-04-10", "end": "2027-04-25", "label": "Vacances de printemps"}],
    }
    return {
        "name": school.name,
        "level": school.level,
        "city": school.city,
        "site": "Bâtiment principal",
        "rooms": rooms,
        "staff": staff,
        "hours": hours,
    }


def school_body(school: School) -> dict[str, Any]:
    """What the school sends to the scheduler (PUT /schools/{uai})."""
    if school.body is not None:
        return school.body
    rooms = [
        {"name": "CDI", "workstations": 24},
        {"name": "Salle informatique B12", "workstations": 30},
        {"name": "Salle informatique B14", "workstations": 18},
    ]
    staff = [
        {"name": n, "availability": None}
        for n in ("Mme Bernard", "M. Petit", "Mme Roux", "M. Moreau", "Mme Fournier", "M. Girard")
    ]
    return {
        "name": school.name,
        "level": school.level,
        "city": school.city,
        "site": "Bâtiment principal",
        "rooms": rooms,
        "staff": staff,
    }


def schools_for(
    scale: str, seed: int, schools: int | None = None, students: int | None = None
) -> list[School]:
    """The académie of a `--scale`; --schools / --students override its size (per school for demo,
    in all otherwise)."""
    size = SCALES[scale]
    count = schools if schools is not None else size.schools
    total = students if students is not None else size.students
    if scale == "demo":
        return generate_schools(seed, count, total)
    return generate_academie(seed, count, total)
