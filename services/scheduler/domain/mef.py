"""Which classes certify, read from the SIECLE MEF code of their students (``Code MEF*`` / ``CODE_MEF``).

Pix certification is compulsory for 3e (collège track) and for terminales (général, technologique,
professionnel), the last year of CAP, BTS 2e année and CPGE 2e année (lycée track)
(schools-lsu-calendar.md §2.1–2.2). A roster holds every class of the school, so the planner plans
by default only the divisions whose MEF says one of those levels; another class is planned only
when a school asks for it by name.

A MEF code (BCN table N_MEF, 11 characters in SIECLE: 10 significant + 1) is laid out as
``DDD NNN OO d a x``: ``DDD`` the *dispositif de formation* (the kind and level of the programme),
``NNN`` the specialty group, ``OO`` an order number, ``d`` the programme's length in years, ``a``
the year of it the student is in, ``x`` a variant. Confirmed examples: ``10310019110`` 3EME,
``10010012110`` 6EME, ``16610002110`` 4EME SEGPA, ``1671000C11A`` 3EME SEGPA (SIECLE exports);
``2412213922.`` 2CAP2 (CAP in 2 years, year 2), ``2472521933.`` TlePro (bac pro in 3 years, year 3),
``3112200322.`` 2BTS2 (BTS in 2 years, year 2) (SACoche's MEF patterns, ``.`` = any last character).

The dispositifs below are the ones those sources confirm, plus the two CPGE years (301, 302) and
the general terminale (202) as BCN names them; a dispositif not listed (e.g. the technological
series' terminales) is ``unknown`` and is not planned by default: the proposal says so, and the
school names the class to plan it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

MEF_PATTERN = re.compile(r"^(?P<dispositif>\d{3})[0-9A-Z]{5}(?P<length>\d)(?P<year>\d)[0-9A-Z]?$")


class Certifying(StrEnum):
    """What a MEF says about certifying this school year."""

    YES = "certifying"
    NO = "not_certifying"
    UNKNOWN = "unknown"


#: one-year dispositifs: dispositif → (level, whether it certifies)
_COLLEGE = {
    "100": ("6e", False),
    "101": ("5e", False),
    "102": ("4e", False),
    "103": ("3e", True),
    "164": ("6e SEGPA", False),
    "165": ("5e SEGPA", False),
    "166": ("4e SEGPA", False),
    "167": ("3e SEGPA", True),
}
_GENERAL = {
    "200": ("2de générale et technologique", False),
    "201": ("1re générale", False),
    "202": ("terminale générale", True),
    "301": ("CPGE 1re année", False),
    "302": ("CPGE 2e année", True),
}
#: multi-year programmes: the year ``a`` of the MEF that certifies (the last one, or BTS's second)
_BY_YEAR = {
    "240": ("CAP en 1 an", "last"),
    "241": ("CAP en 2 ans", "last"),
    "242": ("CAP en 3 ans", "last"),
    "247": ("bac pro en 3 ans", "last"),
    "311": ("BTS en 2 ans", "last"),
    "310": ("BTS en 1 an", "never"),
}


@dataclass(frozen=True, slots=True)
class MefLevel:
    """What one MEF code says: its level in words and whether the class certifies this year."""

    code: str
    level: str
    certifying: Certifying


def classify(code: str | None) -> MefLevel:
    """The level of a SIECLE MEF code; ``unknown`` for an empty, malformed or unlisted code."""
    text = (code or "").strip().upper()
    match = MEF_PATTERN.match(text)
    if match is None:
        return MefLevel(text, "MEF absent ou mal formé" if text else "MEF absent", Certifying.UNKNOWN)
    dispositif = match["dispositif"]
    if dispositif in _COLLEGE or dispositif in _GENERAL:
        level, certifies = {**_COLLEGE, **_GENERAL}[dispositif]
        return MefLevel(text, level, Certifying.YES if certifies else Certifying.NO)
    if dispositif in _BY_YEAR:
        programme, rule = _BY_YEAR[dispositif]
        length, year = int(match["length"]), int(match["year"])
        if not 1 <= year <= max(length, 1):
            return MefLevel(text, f"{programme}, année {year} sur {length} ?", Certifying.UNKNOWN)
        certifies = rule == "last" and year == length
        ordinal = "1re" if year == 1 else f"{year}e"
        return MefLevel(text, f"{programme}, {ordinal} année", Certifying.YES if certifies else Certifying.NO)
    return MefLevel(text, f"dispositif {dispositif} inconnu", Certifying.UNKNOWN)


@dataclass(frozen=True, slots=True)
class DivisionLevel:
    """A division (class) of a school and what its students' MEF codes say."""

    division: str
    #: the most frequent MEF among its active students (a class has one MEF, give or take a mistake)
    mef: MefLevel
    #: other MEF codes met in the class (a student keyed with another MEF)
    others: tuple[str, ...] = ()

    @property
    def certifying(self) -> bool:
        return self.mef.certifying is Certifying.YES

    def describe(self) -> str:
        code = f"MEF {self.mef.code}" if self.mef.code else "sans MEF"
        return f"{self.division} ({self.mef.level}, {code})"


def division_levels(mef_counts: Mapping[str, Mapping[str | None, int]]) -> list[DivisionLevel]:
    """division → {MEF code: active students with it}: each division's level, sorted by division."""
    levels = []
    for division in sorted(mef_counts):
        counts: Counter[str] = Counter()
        for code, number in mef_counts[division].items():
            counts[(code or "").strip().upper()] += number
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        main = ranked[0][0] if ranked else ""
        levels.append(DivisionLevel(division, classify(main), tuple(code for code, _ in ranked[1:])))
    return levels


def certifying_divisions(levels: Iterable[DivisionLevel]) -> list[str]:
    return [level.division for level in levels if level.certifying]


@dataclass(frozen=True, slots=True)
class DivisionChoice:
    """The classes a plan covers and what the school should know about that choice."""

    #: the divisions to plan; None: every class (a roster without any MEF code)
    divisions: tuple[str, ...] | None
    notes: tuple[str, ...] = ()
    #: classes asked for by name whose MEF is not a certifying level
    warnings: tuple[str, ...] = ()


def choose_divisions(levels: Sequence[DivisionLevel], asked: Sequence[str] | None) -> DivisionChoice:
    """By default the certifying divisions only (by MEF); the ``asked`` ones when the school names
    them, with a warning for each that does not certify by its MEF.

    A roster with no MEF code at all (rows read before the scheduler kept MEF codes) cannot tell, so
    every class is planned and a note says why; real SIECLE and Pix Orga rosters always carry one.
    """
    by_name = {level.division: level for level in levels}
    if asked is not None:
        warnings = tuple(
            f"classe {by_name[name].describe()} demandée explicitement : son MEF n'est pas un niveau"
            " certifiant (3e ; terminale, CAP, BTS 2e année, CPGE 2e année)"
            for name in dict.fromkeys(asked)
            if name in by_name and not by_name[name].certifying and any(lv.mef.code for lv in levels)
        )
        return DivisionChoice(tuple(asked), warnings=warnings)
    if not any(level.mef.code for level in levels):
        note = "aucun code MEF dans la base élèves : toutes les classes sont planifiées" if levels else ""
        return DivisionChoice(None, notes=(note,) if note else ())
    chosen = tuple(certifying_divisions(levels))
    others = [level.describe() for level in levels if not level.certifying]
    notes = [f"classes certifiantes (selon le MEF) : {', '.join(chosen) if chosen else 'aucune'}"]
    if others:
        notes.append(
            "classes non planifiées (niveau non certifiant ou MEF inconnu ; à demander par leur nom"
            f" dans « divisions ») : {', '.join(others)}"
        )
    return DivisionChoice(chosen, notes=tuple(notes))
