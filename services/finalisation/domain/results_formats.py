"""What Pix's two result files share once read: a file is accepted whole or rejected whole.

Every problem found is collected and reported with the file name, the line, the column/field and
what was expected, so a school can fix the file once. The readers of the two formats are beside
this module: results_csv.py (the Pix Orga class results CSV, §7.1) and results_livret.py (the
livret scolaire JSON, §7.2 / schools-lsu-calendar §1.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from shared.errors import DomainError

BOM = "\ufeff"
PARIS = ZoneInfo("Europe/Paris")
MIN_COMPETENCE_LEVEL = -1


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One thing wrong in a file: where (line, column or field) and what was expected."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}" if self.line is not None else None, self.column]
        return ", ".join(w for w in where if w) + f": {self.message}"


class ResultsFileRejected(DomainError):
    """The whole file is refused; `problems` lists every problem found (at most `MAX_PROBLEMS`)."""

    MAX_PROBLEMS = 50

    def __init__(self, code: str, file_name: str, problems: list[FileProblem]) -> None:
        self.file_name = file_name
        self.problems = problems[: self.MAX_PROBLEMS]
        summary = "; ".join(str(p) for p in self.problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(code, f"{file_name}: {summary}{more}", file_name=file_name, problems=self.problems)


def decode_utf8(data: bytes, file_name: str) -> str:
    """The file's text; a file that is not UTF-8 is refused naming the line of its first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ResultsFileRejected(
            "results.bad_encoding",
            file_name,
            [FileProblem(line, None, "the file is not UTF-8 (as Pix exports it)")],
        ) from None
