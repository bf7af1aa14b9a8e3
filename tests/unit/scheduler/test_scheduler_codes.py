import random
import re

import pytest

from services.scheduler.domain.codes import (
    display_password,
    generate_access_code,
    generate_invigilator_password,
    is_valid_access_code,
    is_valid_invigilator_password,
)
from shared.password_hash import hash_password, verify_password

ACCESS_CODE = re.compile(r"^[BCDFGHJKMPQRTVWXY]{4}[2346789]{2}$")


def test_access_code_alphabet_and_shape():
    rng = random.Random(1)
    codes = [generate_access_code(rng=rng) for _ in range(2000)]
    assert all(ACCESS_CODE.match(code) for code in codes)
    assert set("".join(c[:4] for c in codes)) == set("BCDFGHJKMPQRTVWXY")
    assert set("".join(c[4:] for c in codes)) == set("2346789")


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("BCDF23", True),
        ("FMKP39", True),
        ("TOIM91", False),
        ("BCDF2", False),
        ("bcdf23", False),
        ("BCDF05", False),
    ],
)
def test_access_code_validation(code, valid):
    assert is_valid_access_code(code) is valid


def test_access_code_avoids_taken_codes():
    first = generate_access_code(rng=random.Random(7))
    second = generate_access_code(taken={first}, rng=random.Random(7))
    assert second != first


def test_invigilator_password_shape():
    rng = random.Random(3)
    for _ in range(500):
        password = generate_invigilator_password(rng)
        assert len(password) == 6 and len(set(password)) == 6
        assert set(password) <= set("23456789bcdfghjkmpqrstvwxyBCDFGHJKMPQRSTVWXY!*?")
        assert is_valid_invigilator_password(password)
        assert display_password(password) == "C-" + password
        assert display_password("C-" + password) == "C-" + password


def test_password_hash_is_salted_self_describing_and_verifies_with_or_without_prefix():
    encoded = hash_password("kjHv!7")
    algorithm, params, salt, digest = encoded.split("$")
    assert algorithm == "scrypt" and params.startswith("n=") and salt and digest
    assert hash_password("kjHv!7") != encoded
    assert verify_password("kjHv!7", encoded)
    assert verify_password("C-kjHv!7", encoded)
    assert verify_password(" C-kjHv!7 ", encoded)
    assert not verify_password("kjHv!8", encoded)
    assert not verify_password("C-kjhv!7", encoded)
    assert verify_password("kjHv!7", hash_password("C-kjHv!7"))


def test_pbkdf2_hashes_verify_and_garbage_is_refused():
    import base64
    import hashlib

    salt = b"0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha256", b"2xhyKg", salt, 1000)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    encoded = f"pbkdf2_sha256$1000${b64(salt)}${b64(digest)}"
    assert verify_password("C-2xhyKg", encoded)
    assert not verify_password("2xhyKG", encoded)
    for garbage in ("", "plain", "md5$1$YQ$YQ", "scrypt$n=x$YQ$YQ"):
        with pytest.raises(ValueError):
            verify_password("x", garbage)
