import random

import pytest

from deploy.local.generator import random_ine, random_uai
from shared.contracts.identifiers import (
    IneKind,
    ine_kind,
    ine_problem,
    is_valid_ine,
    is_valid_uai,
    mod23_letter,
    uai_problem,
)


def test_reference_uai_passes_the_check_letter():
    assert is_valid_uai("0211089V")
    assert is_valid_uai("0211089v")  # compared case-insensitively, as Pix does


@pytest.mark.parametrize(
    ("uai", "problem"),
    [
        ("1237457A", "format"),  # Pix fixture: département 123 does not exist
        ("0211089A", "check_letter"),
        ("021108V", "format"),
        ("02110899", "format"),
        ("0961234A", "format"),  # 096 is not a département
        ("6201234" + mod23_letter("6201234"), None),  # Corse 2A
        ("9741234" + mod23_letter("9741234"), None),  # La Réunion
    ],
)
def test_uai_problems(uai, problem):
    assert uai_problem(uai) == problem


def test_generated_uais_are_valid_and_in_the_department():
    rng = random.Random(7)
    for _ in range(200):
        assert is_valid_uai(random_uai(rng))
    assert random_uai(rng, "021").startswith("021")


@pytest.mark.parametrize(
    ("ine", "kind"),
    [
        ("123456789AB", IneKind.RNIE),
        ("1234567890" + mod23_letter("1234567890"), IneKind.BEA),
        ("1234A12345B", IneKind.APPRENTICE),
    ],
)
def test_ine_families(ine, kind):
    assert ine_kind(ine) is kind
    assert ine_problem(ine) is None


def test_bea_ine_check_letter_is_verified():
    good = "1234567890" + mod23_letter("1234567890")
    wrong = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert ine_problem(wrong) == "check_letter"


@pytest.mark.parametrize(
    "ine", ["", "12345678AB", "123456789ABC", "ABCDEFGHIJK", "12345678 AB", "1234B12345C"]
)
def test_ine_bad_formats(ine):
    assert ine_problem(ine) == "format"


def test_generated_ines_are_valid_in_every_family():
    rng = random.Random(3)
    for kind in IneKind:
        for _ in range(100):
            ine = random_ine(rng, kind)
            assert ine_kind(ine) is kind and is_valid_ine(ine)
