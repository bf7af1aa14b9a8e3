"""The invigilator password hash cost is a setting: any accepted cost verifies, hashes name their cost."""

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


def test_the_scheduler_setting_refuses_a_bad_cost_and_hashes_at_the_one_given() -> None:
    from pydantic import ValidationError

    from services.scheduler.app import Settings

    with pytest.raises(ValidationError):
        Settings(
            database_url="postgresql://x@y/z",
            kafka_bootstrap_servers="x:1",
            invigilator_password_scrypt_n=3000,
        )
    assert (
        Settings(
            database_url="postgresql://x@y/z", kafka_bootstrap_servers="x:1"
        ).invigilator_password_scrypt_n
        == 2048
    )
