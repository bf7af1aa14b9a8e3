"""Invigilator password verifiers, shared by scheduler (makes them) and finalisation (checks them).

Encoded as a self-describing string ``algorithm$params$salt$hash`` (salt and hash in unpadded
base64url), so parameters can change without breaking stored values:

- ``hmac_sha256$<key id>$<salt>$<mac>`` (what `keyed_verifier` produces, what SessionCreated v2
  carries): HMAC-SHA256 under ``INVIGILATOR_PASSWORD_KEY``, which only scheduler and finalisation
  hold. Without the key nobody can test a guess against it, however short the password
  (docs/adr/0007-keyed-invigilator-password-verifier.md); the key id tells a verifier made under
  another key from a wrong password;
- ``scrypt$n=16384,r=8,p=1$<salt>$<hash>`` (`hash_password`; what SessionCreated v1 carried, still
  verified for the sessions announced before v2);
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
KEYED = "hmac_sha256"


def hash_password(plain: str, *, n: int = SCRYPT_N) -> str:
    """Hash `plain` (with or without the "C-" prefix) with scrypt at cost `n` and a fresh random salt.

    The cost is written into the hash, so `verify_password` checks hashes of every cost, old and new.
    """
    if n < 2 or n & (n - 1):
        raise ValueError(f"scrypt cost n must be a power of 2 above 1, not {n}")
    salt = secrets.token_bytes(SALT_LENGTH)
    digest = _scrypt(_normalise(plain), salt, n, SCRYPT_R, SCRYPT_P)
    return f"scrypt$n={n},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def keyed_verifier(plain: str, key: str) -> str:
    """HMAC-SHA256 of `plain` (with or without "C-") under `key`, with a fresh random salt.

    The salt keeps two sessions with the same password from carrying the same value.
    """
    salt = secrets.token_bytes(SALT_LENGTH)
    return f"{KEYED}${key_id(key)}${_b64(salt)}${_b64(_mac(key, salt, _normalise(plain)))}"


def key_id(key: str) -> str:
    """A short public name of `key` (a MAC under it: says nothing about the key itself)."""
    return _b64(hmac.new(key.encode(), b"certibus invigilator password key id", hashlib.sha256).digest()[:6])


def verify_password(plain: str, encoded: str, *, key: str | None = None) -> bool:
    """True when `plain` (optionally "C-"-prefixed) matches; constant-time comparison.

    A keyed verifier needs `key`. Raises ValueError when `encoded` is not a value this module
    understands, or was made under another key (corrupt data must not look like a wrong password).
    """
    try:
        algorithm, params, salt_text, hash_text = encoded.split("$")
        salt, expected = _unb64(salt_text), _unb64(hash_text)
    except ValueError as error:
        raise ValueError("malformed password hash") from error
    secret = _normalise(plain)
    if algorithm == KEYED:
        if key is None:
            raise ValueError("a keyed verifier is checked with INVIGILATOR_PASSWORD_KEY")
        if params != key_id(key):
            raise ValueError("the verifier was made under another INVIGILATOR_PASSWORD_KEY")
        actual = _mac(key, salt, secret)
    elif algorithm == "scrypt":
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


def _mac(key: str, salt: bytes, secret: bytes) -> bytes:
    return hmac.new(key.encode(), salt + secret, hashlib.sha256).digest()


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int, length: int = KEY_LENGTH) -> bytes:
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=length)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty base64 field")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
