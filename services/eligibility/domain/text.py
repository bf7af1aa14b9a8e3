"""Text normalisation shared by header matching and learner matching.

Names and headers arrive with or without accents, with ' or ’, doubled spaces, hyphens: comparing
them raw would split one learner in two or miss a column.
"""

import re
import unicodedata
from functools import lru_cache

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_SPACES = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def strip_accents(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise_header(value: str) -> str:
    """Header key: accents kept out, case folded, one apostrophe, single spaces, no trailing '*'."""
    value = strip_accents(value.translate(_APOSTROPHES)).casefold()
    value = _SPACES.sub(" ", value).strip()
    return value.rstrip("*").rstrip()


@lru_cache(maxsize=65_536)  # first and last names repeat a lot across a roster
def normalise_name(value: str) -> str:
    """Person-name key, as Pix does for reconciliation: letters and digits only, no accents, lower case."""
    return _NOT_ALNUM.sub("", strip_accents(value).casefold())


#: Cells a spreadsheet would execute as a formula (OWASP CSV injection list).
FORMULA_PREFIXES = frozenset("=+-@\t\r")


def looks_like_formula(cell: str) -> bool:
    return bool(cell) and cell[0] in FORMULA_PREFIXES
