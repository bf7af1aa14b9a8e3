"""Legacy scrypt hashes (what SessionCreated v1 carried): a hash of any cost verifies and names its cost."""

from __future__ import annotations

import pytest

from shared.password_hash import SCRYPT_N, hash_password, verify_password


@pytest.mark.parametrize("n", [2**10, 2**11, SCRYPT_N])
def test_a_hash_of_any_cost_verifies_and_says_its_cost(n: int) -> None:
    encoded = hash_password("C-kjHv!7", n=n)
    assert encoded.startswith(f"scrypt$n={n},r=8,p=1$")
    assert verify_password("kjHv!7", encoded) and verify_password("C-kjHv!7", encoded)
    assert not verify_password("C-kjHv!8", encoded)


@pytest.mark.parametrize("n", [0, 1, 3, 1000])
def test_a_cost_scrypt_refuses_is_refused_when_hashing(n: int) -> None:
    with pytest.raises(ValueError):
        hash_password("C-kjHv!7", n=n)
