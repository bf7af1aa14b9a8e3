"""The UAI of a school as the export reads it: one rule for its routes, its read model and its files.

Pix compares an organisation's UAI case-insensitively, so every UAI is normalised (trimmed, upper
case, as ``shared.contracts.identifiers`` does for every service). A school route accepts the UAI
*shape*, 7 digits and a letter, without verifying the mod-23 check letter: the export serves the
files of whatever school the académie's events name (eligibility already refused a roster with a
wrong check letter), and a stricter rule here would hide existing files behind a 400.
"""

from __future__ import annotations

import re

from shared.contracts.identifiers import normalise_identifier
from shared.errors import DomainError

_UAI_SHAPE = re.compile(r"^[0-9]{7}[A-Z]$")


def normalise_uai(uai: str) -> str:
    """UAIs are matched case-insensitively (Pix compares the organisation externalId that way)."""
    return normalise_identifier(uai)


def school_uai(uai: str) -> str:
    """The normalised UAI of a school route; DomainError ``uai.invalid`` unless 7 digits and a letter."""
    normalised = normalise_uai(uai)
    if not _UAI_SHAPE.match(normalised):
        raise DomainError("uai.invalid", "a UAI is 7 digits followed by a letter", uai=uai)
    return normalised
