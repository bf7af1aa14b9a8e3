"""UAI (school) and INE (learner) identifiers: formats and check characters, for every service and client.

Sources: reference/schools-lsu-calendar.md §5.1–5.2. The RNIE INE (9 digits + 2 letters) has no
public check algorithm, so only its format is checked; the BEA INE (10 digits + 1 letter) and the
UAI carry a mod-23 check letter that is verified.
"""

import re
from enum import StrEnum

#: 23 letters, without I, O and Q.
ALPHABET23 = "ABCDEFGHJKLMNPRSTUVWXYZ"

_UAI = re.compile(r"^(?:0[0-8][0-9]|09[0-5]|9[78][0-9]|[67]20)[0-9]{4}[A-Z]$")
_INE_RNIE = re.compile(r"^[0-9]{9}[A-Z]{2}$")
_INE_BEA = re.compile(r"^[0-9]{10}[A-Z]$")
_INE_APPRENTICE = re.compile(r"^[0-9]{4}A[0-9]{5}[A-Z]$")


class IneKind(StrEnum):
    RNIE = "rnie"
    BEA = "bea"
    APPRENTICE = "apprentice"


def mod23_letter(digits: str) -> str:
    return ALPHABET23[int(digits) % 23]


def name_key(name: str) -> str:
    """How names typed by people compare (rooms, staff, classes): case and spacing do not matter
    ("Salle  101" = "salle 101", "3e  A" = "3E A")."""
    return " ".join(name.split()).casefold()


def normalise_identifier(value: str) -> str:
    """Identifiers compare case-insensitively (Pix does so for UAI and accepts lower-case INE)."""
    return value.strip().upper()


def uai_problem(uai: str) -> str | None:
    """None when valid, else 'format' or 'check_letter'. Expects a normalised (upper-case) value."""
    if not _UAI.match(uai):
        return "format"
    if mod23_letter(uai[:7]) != uai[7]:
        return "check_letter"
    return None


def is_valid_uai(uai: str) -> bool:
    return uai_problem(normalise_identifier(uai)) is None


def ine_kind(ine: str) -> IneKind | None:
    """Which INE family the (normalised) value's shape belongs to, None if none."""
    if _INE_BEA.match(ine):
        return IneKind.BEA
    if _INE_RNIE.match(ine):
        return IneKind.RNIE
    if _INE_APPRENTICE.match(ine):
        return IneKind.APPRENTICE
    return None


def ine_problem(ine: str) -> str | None:
    """None when valid, else 'format' or 'check_letter' (only BEA INEs carry a known check letter)."""
    kind = ine_kind(ine)
    if kind is None:
        return "format"
    if kind is IneKind.BEA and mod23_letter(ine[:10]) != ine[10]:
        return "check_letter"
    return None


def is_valid_ine(ine: str) -> bool:
    return ine_problem(normalise_identifier(ine)) is None
