"""The keyed invigilator password verifier (SessionCreated v2): checkable with the key, not without."""

from __future__ import annotations

import re

import pytest

from shared.password_hash import hash_password, key_id, keyed_verifier, verify_password

KEY = "k" * 40
OTHER = "o" * 40


def test_the_verifier_checks_the_password_with_or_without_the_prefix_under_its_key() -> None:
    verifier = keyed_verifier("C-kjHv!7", KEY)
    assert re.fullmatch(r"hmac_sha256\$[\w-]{8}\$[\w-]{22}\$[\w-]{43}", verifier)
    assert verify_password("kjHv!7", verifier, key=KEY)
    assert verify_password(" C-kjHv!7 ", verifier, key=KEY)
    assert not verify_password("C-kjHv!8", verifier, key=KEY)


def test_without_the_key_no_guess_can_be_tested() -> None:
    verifier = keyed_verifier("C-kjHv!7", KEY)
    with pytest.raises(ValueError, match="INVIGILATOR_PASSWORD_KEY"):
        verify_password("C-kjHv!7", verifier)


def test_a_verifier_of_another_key_is_not_taken_for_a_wrong_password() -> None:
    verifier = keyed_verifier("C-kjHv!7", OTHER)
    with pytest.raises(ValueError, match="another INVIGILATOR_PASSWORD_KEY"):
        verify_password("C-kjHv!7", verifier, key=KEY)
    assert key_id(KEY) != key_id(OTHER) and KEY not in key_id(KEY)


def test_two_sessions_with_one_password_carry_different_values() -> None:
    assert keyed_verifier("C-kjHv!7", KEY) != keyed_verifier("C-kjHv!7", KEY)


def test_legacy_hashes_still_verify_without_the_key() -> None:
    assert verify_password("C-kjHv!7", hash_password("kjHv!7", n=2**10), key=KEY)
