"""Access codes and invigilator passwords in the exact shapes Pix uses (pix-domain §1.2, §1.3).

Randomness comes from `secrets.SystemRandom` unless a seeded `random.Random` is passed (tests).
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Collection

ACCESS_CODE_LETTERS = "BCDFGHJKMPQRTVWXY"
ACCESS_CODE_DIGITS = "2346789"
ACCESS_CODE_PATTERN = re.compile(rf"^[{ACCESS_CODE_LETTERS}]{{4}}[{ACCESS_CODE_DIGITS}]{{2}}$")

#: Newer Pix generator: 6 distinct characters from these (no 0/1, no vowels, no l/n/z).
PASSWORD_ALPHABET = "23456789" + "bcdfghjkmpqrstvwxy" + "BCDFGHJKMPQRSTVWXY" + "!*?"
PASSWORD_LENGTH = 6
PASSWORD_PREFIX = "C-"
PASSWORD_PATTERN = re.compile(rf"^[{re.escape(PASSWORD_ALPHABET)}]{{{PASSWORD_LENGTH}}}$")

_MAX_ATTEMPTS = 1000
_system_random = secrets.SystemRandom()


def generate_access_code(taken: Collection[str] = frozenset(), rng: random.Random | None = None) -> str:
    """4 letters + 2 digits, not in `taken` (the codes of live sessions)."""
    rng = rng or _system_random
    for _ in range(_MAX_ATTEMPTS):
        code = "".join(rng.choice(ACCESS_CODE_LETTERS) for _ in range(4)) + "".join(
            rng.choice(ACCESS_CODE_DIGITS) for _ in range(2)
        )
        if code not in taken:
            return code
    raise RuntimeError(f"no free access code after {_MAX_ATTEMPTS} attempts ({len(taken)} taken)")


def is_valid_access_code(code: str) -> bool:
    return bool(ACCESS_CODE_PATTERN.match(code))


def generate_invigilator_password(rng: random.Random | None = None) -> str:
    """6 distinct characters; stored and hashed without the "C-" prefix, displayed with it."""
    rng = rng or _system_random
    return "".join(rng.sample(PASSWORD_ALPHABET, PASSWORD_LENGTH))


def display_password(password: str) -> str:
    """What the kit prints and the invigilator types: "C-" + password."""
    return PASSWORD_PREFIX + strip_password_prefix(password)


def strip_password_prefix(typed: str) -> str:
    typed = typed.strip()
    return typed[len(PASSWORD_PREFIX) :] if typed.startswith(PASSWORD_PREFIX) else typed


def is_valid_invigilator_password(password: str) -> bool:
    bare = strip_password_prefix(password)
    return bool(PASSWORD_PATTERN.match(bare)) and len(set(bare)) == len(bare)
