"""MEF → level: the certifying classes (3e; terminales, CAP, BTS 2e année, CPGE 2e année) and the others."""

import pytest

from services.scheduler.domain.mef import (
    Certifying,
    certifying_divisions,
    choose_divisions,
    classify,
    division_levels,
)


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("10310019110", "3e"),  # 3EME (SIECLE exports, the project's rosters)
        ("1031000D11A", "3e"),  # 3EME A DEUX LANGUES VIVANTES (a variant of 3EME)
        ("1671000C11A", "3e SEGPA"),
        ("20212012110", "terminale générale"),
        ("24725219330", "bac pro en 3 ans, 3e année"),  # TlePro (SACoche 2472521933.)
        ("24122139220", "CAP en 2 ans, 2e année"),  # 2CAP2 cuisine (SACoche 2412213922.)
        ("24022139110", "CAP en 1 an, 1re année"),  # 1CAP1 cuisine (SACoche 2402213911.)
        ("31122003220", "BTS en 2 ans, 2e année"),  # 2BTS2 (SACoche 3112200322.)
        ("30213101220", "CPGE 2e année"),
    ],
)
def test_certifying_levels(code, level):
    assert classify(code).certifying is Certifying.YES
    assert classify(code).level == level


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("10010012110", "6e"),
        ("10110001110", "5e"),
        ("10210001110", "4e"),
        ("16610002110", "4e SEGPA"),
        ("20010019110", "2de générale et technologique"),
        ("24725211310", "bac pro en 3 ans, 1re année"),  # 2ndPro (SACoche 2472521131.)
        ("24725219320", "bac pro en 3 ans, 2e année"),  # 1erPro (SACoche 2472521932.)
        ("24122139210", "CAP en 2 ans, 1re année"),  # 1CAP2 (SACoche 2412213921.)
        ("31122003210", "BTS en 2 ans, 1re année"),  # 1BTS2 (SACoche 3112200321.)
        ("31020003110", "BTS en 1 an, 1re année"),  # 1BTS1: not a BTS 2e année
        ("30113101110", "CPGE 1re année"),
    ],
)
def test_other_levels_do_not_certify(code, level):
    assert classify(code).certifying is Certifying.NO
    assert classify(code).level == level


@pytest.mark.parametrize(
    ("code", "level"),
    [
        (None, "MEF absent"),
        ("", "MEF absent"),
        ("  ", "MEF absent"),
        ("1031001911", "3e"),  # 10 characters (the BCN form without the variant) is a MEF too
        ("10310019", "MEF absent ou mal formé"),
        ("3E-GENERALE", "MEF absent ou mal formé"),
        ("99910019110", "dispositif 999 inconnu"),
        ("24725219340", "bac pro en 3 ans, année 4 sur 3 ?"),
    ],
)
def test_unknown_or_malformed_codes(code, level):
    result = classify(code)
    assert result.level == level
    if level != "3e":
        assert result.certifying is Certifying.UNKNOWN


def test_a_class_takes_its_most_frequent_mef_and_keeps_the_odd_ones():
    levels = division_levels(
        {
            "3A": {"10310019110": 27, "10210001110": 1},  # one student keyed with the 4e MEF
            "5B": {"10110001110": 25},
            "TG1": {"20212012110 ": 30},
            "ULIS": {None: 2},
        }
    )
    assert [(lv.division, lv.mef.level, lv.certifying) for lv in levels] == [
        ("3A", "3e", True),
        ("5B", "5e", False),
        ("TG1", "terminale générale", True),
        ("ULIS", "MEF absent", False),
    ]
    assert levels[0].others == ("10210001110",)
    assert levels[0].describe() == "3A (3e, MEF 10310019110)"
    assert levels[3].describe() == "ULIS (MEF absent, sans MEF)"
    assert certifying_divisions(levels) == ["3A", "TG1"]


LEVELS = division_levels({"3A": {"10310019110": 28}, "3B": {"10310019110": 27}, "5A": {"10110001110": 26}})


def test_by_default_only_the_certifying_divisions():
    choice = choose_divisions(LEVELS, None)
    assert choice.divisions == ("3A", "3B") and choice.warnings == ()
    assert choice.notes == (
        "classes certifiantes (selon le MEF) : 3A, 3B",
        "classes non planifiées (niveau non certifiant ou MEF inconnu ; à demander par leur nom dans"
        " « divisions ») : 5A (5e, MEF 10110001110)",
    )


def test_another_class_only_when_asked_and_then_a_warning():
    choice = choose_divisions(LEVELS, ["3A", "5A"])
    assert choice.divisions == ("3A", "5A")
    assert choice.warnings == (
        "classe 5A (5e, MEF 10110001110) demandée explicitement : son MEF n'est pas un niveau certifiant"
        " (3e ; terminale, CAP, BTS 2e année, CPGE 2e année)",
    )


def test_a_roster_without_any_mef_plans_every_class_and_says_why():
    choice = choose_divisions(division_levels({"3A": {None: 3}, "5A": {None: 2}}), None)
    assert choice.divisions is None
    assert choice.notes == ("aucun code MEF dans la base élèves : toutes les classes sont planifiées",)
    assert choose_divisions(division_levels({"5A": {None: 2}}), ["5A"]).warnings == ()
