"""Drawing a certibus PDF page with reportlab: a cursor that flows lines down the page, and tables.

The session documents (documents.py) are laid out on it. Built-in Helvetica (WinAnsi), every text
through ``pdf_safe_text``; ``invariant=1`` so the same input gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from shared.pdf_text import pdf_safe_text

WIDTH, HEIGHT = A4
MARGIN = 40.0
FONT = "Helvetica"
BOLD = "Helvetica-Bold"


class Pdf:
    """A cursor over a canvas: lines flow down the page."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.y = HEIGHT - MARGIN

    def title(self, text: str) -> None:
        self.y = HEIGHT - MARGIN - 8
        self.line(text, font=BOLD, size=16)
        self.gap(6)

    def line(self, text: str, *, font: str = FONT, size: float = 10, x: float = MARGIN) -> None:
        self.canvas.setFont(font, size)
        self.canvas.drawString(x, self.y, pdf_safe_text(text))
        self.y -= size * 1.45

    def field(self, label: str, value: str, *, size: float = 10) -> None:
        self.canvas.setFont(FONT, size)
        label_text = pdf_safe_text(f"{label} : ")
        self.canvas.drawString(MARGIN, self.y, label_text)
        self.canvas.setFont(BOLD, size)
        self.canvas.drawString(MARGIN + stringWidth(label_text, FONT, size), self.y, pdf_safe_text(value))
        self.y -= size * 1.45

    def paragraph(self, text: str, *, size: float = 10) -> None:
        width = WIDTH - 2 * MARGIN
        current = ""
        for word in text.split():
            attempt = f"{current} {word}".strip()
            if current and stringWidth(pdf_safe_text(attempt), FONT, size) > width:
                self.line(current, size=size)
                current = word
            else:
                current = attempt
        if current:
            self.line(current, size=size)

    def gap(self, points: float = 10) -> None:
        self.y -= points

    def footer(self, text: str) -> None:
        self.canvas.setFont(FONT, 8)
        self.canvas.drawRightString(WIDTH - MARGIN, MARGIN / 2, pdf_safe_text(text))


def render(title: str, draw: Callable[[Pdf], None]) -> bytes:
    """The PDF's bytes: ``draw`` fills the pages (ending each with ``showPage()``)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(pdf_safe_text(title))
    canvas.setAuthor("certibus")
    pdf = Pdf(canvas)
    draw(pdf)  # every drawer ends its pages with showPage()
    canvas.save()
    return buffer.getvalue()


def blank_table(pdf: Pdf, columns: Sequence[tuple[str, float]], rows: int) -> None:
    """A table of empty rows, to fill by hand (the PV d'incident, the PV de fraude)."""
    table(pdf, columns, [], min_rows=rows, row_height=30)


def table(
    pdf: Pdf,
    columns: Sequence[tuple[str, float]],
    cells: Sequence[Sequence[str]],
    *,
    min_rows: int,
    row_height: float,
) -> None:
    """A ruled table at the cursor: bold headers fitted to their column, cells cut with … to fit."""
    canvas = pdf.canvas
    header_height = 20.0
    total_rows = max(min_rows, len(cells))
    top = pdf.y + 12
    width = sum(w for _, w in columns)
    bottom = top - header_height - total_rows * row_height
    canvas.setLineWidth(0.6)
    canvas.rect(MARGIN, bottom, width, top - bottom)
    x = MARGIN
    for title, column_width in columns:
        size = _fit(title, BOLD, 9, column_width - 6)
        canvas.setFont(BOLD, size)
        canvas.drawString(x + 3, top - 14, pdf_safe_text(title))
        if x > MARGIN:
            canvas.line(x, top, x, bottom)
        x += column_width
    for index in range(total_rows + 1):
        y = top - header_height - index * row_height
        canvas.line(MARGIN, y, MARGIN + width, y)
    for index, row in enumerate(cells):
        y = top - header_height - (index + 1) * row_height + 9
        x = MARGIN
        for (_, column_width), value in zip(columns, row, strict=False):
            if value:
                text = _truncate(value, FONT, 9.5, column_width - 6)
                canvas.setFont(FONT, 9.5)
                canvas.drawString(x + 3, y, text)
            x += column_width
    pdf.y = bottom - 16


def _fit(text: str, font: str, size: float, width: float) -> float:
    while size > 5 and stringWidth(pdf_safe_text(text), font, size) > width:
        size -= 0.5
    return size


def _truncate(text: str, font: str, size: float, width: float) -> str:
    text = pdf_safe_text(text)
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"
