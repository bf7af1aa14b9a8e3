"""The comparison of two main-job outputs: run-time fields are ignored, any other changed byte is not."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from reportlab.pdfgen.canvas import Canvas

from deploy.local.normalise import Difference, compare_outputs

CSV_HEADER = '"Numéro de certification";"Prénom";"Statut";"Session";"Date de passage de la certification"'


def _pdf(*lines: str) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1, pageCompression=1)
    for i, line in enumerate(lines):
        canvas.drawString(60, 700 - 20 * i, line)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _bundle(password: str, access_code: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("kit-surveillant-session-4.pdf", _pdf("Kit surveillant", password, access_code))
        archive.writestr("convocations-session-4.pdf", _pdf("Convocation", "N° de session : 4"))
    return buffer.getvalue()


def _write_run(root: Path, day: str, time: str, password: str, access_code: str) -> Path:
    """A miniature output of one run on ``day`` (YYYYMMDD) at ``time``."""
    iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    french = f"{day[6:]}/{day[4:6]}/{day[:4]}"
    exports = root / "exports" / "0211774P"
    exports.mkdir(parents=True)
    (exports / f"{day}_resultats_3A.csv").write_bytes(
        f'\ufeff{CSV_HEADER}\r\n236021672;"Enzo";"Validée";5;"{french}"\r\n'.encode()
    )
    (exports / f"{day}_livret_LSU_0211774P.json").write_text(
        f'{{"id": 236021672, "date": "{iso}T{time}.601Z", "deliveredAt": "2027-01-0{day[-1]}T00:00:00Z",'
        f' "birthdate": "2011-12-25", "pixScore": 306}}',
        encoding="utf-8",
    )
    (exports / f"{day}_attestations_3A.pdf").write_bytes(
        _pdf("Enzo André", "Né(e) le 25/12/2011", f"Certification passée le {french}")
    )
    documents = root / "documents" / "0211774P"
    documents.mkdir(parents=True)
    (documents / "session-4.zip").write_bytes(_bundle(password, access_code))
    (root / "logs").mkdir()
    (root / "logs" / "scheduler.log").write_text(f"started at {time}\n")
    (root / "summary.json").write_text(f'{{"seconds": {len(time)}.{day[-1]}}}')
    return root


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    """The same run twice, on two days, at two times, with the scheduler's fresh credentials."""
    a = _write_run(tmp_path / "a", "20261203", "22:58:42", "C-Pcf!QV", "QYCV88")
    b = _write_run(tmp_path / "b", "20261204", "09:01:07", "C-x*9bTq", "BCDF23")
    return a, b


def test_two_runs_that_differ_only_by_run_time_fields_are_equal(two_runs):
    assert compare_outputs(*two_runs) == []


@pytest.mark.parametrize(
    ("relative", "old", "new"),
    [
        ("exports/0211774P/20261204_resultats_3A.csv", b"Valid", b"Vaiid"),
        ("exports/0211774P/20261204_resultats_3A.csv", b";5;", b";6;"),
        ("exports/0211774P/20261204_livret_LSU_0211774P.json", b"306", b"307"),
        ("exports/0211774P/20261204_livret_LSU_0211774P.json", b"2011-12-25", b"2011-12-26"),
    ],
)
def test_a_changed_byte_is_a_difference(two_runs, relative, old, new):
    a, b = two_runs
    path = b / relative
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    [difference] = compare_outputs(a, b)
    assert difference.kind == "content"
    assert difference.path == relative.replace("20261204_", "")


def test_a_changed_line_of_a_pdf_inside_a_zip_is_a_difference(two_runs):
    a, b = two_runs
    bundle = b / "documents" / "0211774P" / "session-4.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("kit-surveillant-session-4.pdf", _pdf("Kit surveillant", "C-x*9bTq", "BCDF23"))
        archive.writestr("convocations-session-4.pdf", _pdf("Convocation", "N° de session : 5"))
    bundle.write_bytes(buffer.getvalue())
    assert [d.path for d in compare_outputs(a, b)] == ["documents/0211774P/session-4.zip"]


def test_a_missing_or_extra_file_is_a_difference(two_runs):
    a, b = two_runs
    (b / "exports" / "0211774P" / "20261204_attestations_3A.pdf").unlink()
    shutil.copy(
        b / "documents" / "0211774P" / "session-4.zip", b / "documents" / "0211774P" / "session-5.zip"
    )
    assert compare_outputs(a, b) == [
        Difference("exports/0211774P/attestations_3A.pdf", "only in a"),
        Difference("documents/0211774P/session-5.zip", "only in b"),
    ]


def _one_file(root: Path, day: str, content: str) -> Path:
    (root / "exports").mkdir(parents=True)
    (root / "exports" / f"{day}_resultats_3A.csv").write_text(content, encoding="utf-8")
    return root


def test_two_runs_either_side_of_midnight_in_paris_are_equal(tmp_path):
    """Names carry the Paris day, contents may carry the UTC one: 04/12 in both files, though the
    second run's names say 05/12 (a fresh-clone run crossed 2026-12-04 23:00 UTC this way)."""
    before = _one_file(tmp_path / "a", "20261204", "processed 04/12/2026;2026-12-04T22:59:56Z\n")
    after = _one_file(tmp_path / "b", "20261205", "processed 04/12/2026;2026-12-04T23:00:03Z\n")
    assert compare_outputs(before, after) == []
    other_day = _one_file(tmp_path / "c", "20261205", "processed 02/12/2026;2026-12-04T23:00:03Z\n")
    assert [d.kind for d in compare_outputs(before, other_day)] == ["content"]
