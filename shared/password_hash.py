"""Salted password hashes for invigilator passwords, shared by scheduler (hashes) and finalisation (verifies).

Encoded as a self-describing string ``algorithm$params$salt$hash`` (salt and hash in unpadded
base64url), so parameters can be raised later without breaking stored hashes:

- ``scrypt$n=16384,r=8,p=1$<salt>$<hash>`` (what `hash_password` produces);
- ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` (accepted by `verify_password`).

Invigilator passwords are displayed and typed with a "C-" prefix; only the part after it is hashed,
and both forms verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "C-"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
KEY_LENGTH = 32
SALT_LENGTH = 16


def hash_password(plain: str, *, n: int = SCRYPT_N) -> str:
    """Hash `plain` (with or without the "C-" prefix) with scrypt at cost `n` and a fresh random salt.

    The cost is written into the hash, so `verify_password` checks hashes of every cost, old and new.
    """
    if n < 2 or n & (n - 1):
        raise ValueError(f"scrypt cost n must be a power of 2 above 1, not {n}")
    salt = secrets.token_bytes(SALT_LENGTH)
    digest = _scrypt(_normalise(plain), salt, n, SCRYPT_R, SCRYPT_P)
    return f"scrypt$n={n},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(plain: str, encoded: str) -> bool:
    """True when `plain` (optionally "C-"-prefixed) matches; constant-time comparison.

    Raises ValueError when `encoded` is not a hash this module understands (corrupt data must not
    look like a wrong password).
    """
    try:
        algorithm, params, salt_text, hash_text = encoded.split("$")
        salt, expected = _unb64(salt_text), _unb64(hash_text)
    except ValueError as error:
        raise ValueError("malformed password hash") from error
    secret = _normalise(plain)
    if algorithm == "scrypt":
        try:
            values = dict(item.split("=", 1) for item in params.split(","))
            n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
        except (KeyError, ValueError) as error:
            raise ValueError(f"malformed scrypt parameters: {params!r}") from error
        actual = _scrypt(secret, salt, n, r, p, len(expected))
    elif algorithm == "pbkdf2_sha256":
        actual = hashlib.pbkdf2_hmac("sha256", secret, salt, int(params), len(expected))
    else:
        raise ValueError(f"unknown password hash algorithm: {algorithm!r}")
    return hmac.compare_digest(actual, expected)


def _normalise(plain: str) -> bytes:
    plain = plain.strip()
    if plain.startswith(PREFIX):
        plain = plain[len(PREFIX) :]
    return plain.encode("utf-8")


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int, length: int = KEY_LENGTH) -> bytes:
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=length)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty base64 field")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
