"""File names of the exports.

Divisions are free text from SIECLE (``CODE_STRUCTURE``, e.g. "3A", "2nde B", "TMELEC") and must be
kept verbatim in the file name like Pix Orga does, but a few characters cannot live in a file
name on Linux or on the Windows machines of school staff. :func:`safe_file_component`
percent-encodes only those (``/ \\ : * ? " < > |``, ``%`` itself, control characters, and
leading/trailing spaces or dots), as UTF-8 ``%XX``. Ordinary names come out unchanged, and the
encoding is reversible (``urllib.parse.unquote``), so two different divisions never share a file.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

_UNSAFE = frozenset('/\\:*?"<>|%')
_EDGE_UNSAFE = frozenset(" .")

LivretLevel = Literal["LSU", "LSL"]


def _encode(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def safe_file_component(text: str) -> str:
    """``text`` made safe as part of a file name; ValueError when empty."""
    if not text:
        raise ValueError("an empty name cannot be part of a file name")
    chars = [_encode(c) if c in _UNSAFE or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 else c for c in text]
    for position in (0, -1):
        if chars[position] in _EDGE_UNSAFE:
            chars[position] = _encode(chars[position])
    return "".join(chars)


def class_results_file_name(division: str, on: date) -> str:
    """Pix Orga's name for a class results CSV: ``YYYYMMDD_resultats_{division}.csv``."""
    return f"{on:%Y%m%d}_resultats_{safe_file_component(division)}.csv"


def attestations_file_name(division: str, on: date) -> str:
    """Name of a class attestations PDF: ``YYYYMMDD_attestations_{division}.pdf``."""
    return f"{on:%Y%m%d}_attestations_{safe_file_component(division)}.pdf"


def livret_file_name(uai: str, level: LivretLevel, on: date) -> str:
    """Name of a school's livret file: ``YYYYMMDD_livret_{LSU|LSL}_{UAI}.json`` (certibus's choice;
    Pix serves the livret over HTTP only)."""
    return f"{on:%Y%m%d}_livret_{level}_{safe_file_component(uai.strip().upper())}.json"
