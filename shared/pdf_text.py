"""Text that reportlab's built-in fonts can draw: they encode WinAnsi (cp1252), which covers French.

Other letters (Ł, ă, Ș…) are transliterated to their base letter rather than drawn as empty boxes;
anything else becomes "?". Shared by every service that renders PDFs.
"""

from __future__ import annotations

import unicodedata

_TRANSLITERATIONS = str.maketrans(
    {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "Ø": "O", "ø": "o", "ı": "i"}
)


def pdf_safe_text(text: str) -> str:
    """``text`` unchanged when a built-in PDF font can encode it, else its closest printable form."""
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text.translate(_TRANSLITERATIONS):
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            out.append(base if base and base.isascii() else "?")
    return "".join(out)
