"""Bytes → text → header + rows, shared by the learner CSV and the campaign export readers.

Schools send what their spreadsheet saved: UTF-8 with or without BOM, or Windows-1252 from Excel,
`;` (French Excel) or `,`. Anything else (UTF-16, binary, a zip) is refused at file level with a
message a secretary can act on, rather than producing mojibake names.
"""

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from services.eligibility.domain.issues import IssueCollector, Rule

#: Documented upper bound for an uploaded file. A 50k-learner roster is ~8 MB; a campaign export
#: with 50k rows ~15 MB. Beyond this we refuse rather than risk the service's memory.
MAX_FILE_BYTES = 50 * 1024 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class DecodedText:
    text: str
    encoding: str  # "utf-8-sig", "utf-8" or "cp1252"


def check_size(data: bytes, issues: IssueCollector, max_bytes: int) -> bool:
    if len(data) > max_bytes:
        issues.add(
            None,
            None,
            Rule.FILE_TOO_LARGE,
            f"Fichier de {len(data) / 1_048_576:.1f} Mo : la limite est {max_bytes / 1_048_576:.0f} Mo.",
        )
        return False
    if not data.strip(b" \t\r\n" + _UTF8_BOM):
        issues.add(None, None, Rule.FILE_EMPTY, "Le fichier est vide.")
        return False
    return True


def decode(data: bytes, issues: IssueCollector) -> DecodedText | None:
    """UTF-8 (BOM optional) first, then Windows-1252; refuse UTF-16, binary and undecodable bytes."""
    if data.startswith(_UTF16_BOMS):
        issues.add(
            None,
            None,
            Rule.FILE_ENCODING,
            "Fichier en UTF-16 : enregistrez-le en « CSV UTF-8 » ou « CSV (séparateur : point-virgule) ».",
        )
        return None
    if data.startswith(_ZIP_MAGIC) or b"\x00" in data:
        issues.add(
            None,
            None,
            Rule.FILE_ENCODING,
            "Ce n'est pas un fichier texte CSV (fichier binaire, tableur .xlsx/.ods ou UTF-16).",
        )
        return None
    if data.startswith(_UTF8_BOM):
        try:
            text, encoding = data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            line, column = _position(data, exc.start + 3, b"\n")
            issues.add(
                line,
                None,
                Rule.FILE_ENCODING,
                f"Le fichier annonce UTF-8 (BOM) mais l'octet {column} de la ligne {line} "
                "n'est pas de l'UTF-8 valide.",
            )
            return None
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError as exc:
                line, column = _position(data, exc.start, b"\n")
                issues.add(
                    line,
                    None,
                    Rule.FILE_ENCODING,
                    f"Encodage non reconnu (octet {column} de la ligne {line}) : ni UTF-8 ni Windows-1252. "
                    "Enregistrez le fichier en CSV UTF-8.",
                )
                return None
    bad = _CONTROL_CHARS.search(text)
    if bad:
        line, column = _position(text, bad.start(), "\n")
        issues.add(
            line,
            None,
            Rule.FILE_ENCODING,
            f"Caractère de contrôle U+{ord(bad.group()):04X} (caractère {column} de la ligne {line}) : "
            "le fichier n'est pas un texte CSV.",
        )
        return None
    return DecodedText(text, encoding)


def _position(content: Any, offset: int, newline: Any) -> tuple[int, int]:
    """1-based (line, position in the line) of `offset`."""
    line_start = content.rfind(newline, 0, offset) + 1
    return content.count(newline, 0, offset) + 1, offset - line_start + 1


def sniff_delimiter(text: str, score_header: Callable[[list[str]], int]) -> str:
    """`;` or `,`: the one whose header split yields the most recognised column names.

    csv.Sniffer is unreliable here (competence names contain commas), so we ask the caller which
    split of the first record makes sense.
    """
    first_record = text[: text.find("\n") + 1 or len(text)]
    best, best_score = ";", -1
    for delimiter in (";", ","):
        header = next(csv.reader([first_record], delimiter=delimiter), [])
        score = score_header(header)
        if score > best_score:
            best, best_score = delimiter, score
    return best


@dataclass(frozen=True, slots=True)
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (1-based first line of the record, cells)
    delimiter: str


def read_table(text: str, delimiter: str) -> Table:
    """Header plus a lazy stream of non-blank records, each tagged with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    header = next(reader, [])

    def rows() -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not cells or (len(cells) == 1 and not cells[0].strip()) or not any(cells):
                continue
            yield line, cells

    return Table(header, rows(), delimiter)


def check_row_width(issues: IssueCollector, line: int, cells: list[str], header: list[str]) -> bool:
    """A record with as many cells as the header; else one issue naming the first missing or extra column."""
    if len(cells) == len(header):
        return True
    column = header[len(cells)] if len(cells) < len(header) else f"#{len(header) + 1}"
    issues.add(
        line,
        column or f"#{len(cells) + 1}",
        Rule.ROW_COLUMN_COUNT,
        f"{len(cells)} cellules au lieu de {len(header)} (séparateur ?).",
    )
    return False
