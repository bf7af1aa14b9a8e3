"""Files and assertions shared by the eligibility component tests."""

from __future__ import annotations

from datetime import date

from services.eligibility.domain.roster_csv import PIX_LEARNER_HEADERS
from shared.contracts.identifiers import mod23_letter
from tests.learner_rows import HEADER, learner_row  # noqa: F401  (re-exported for the component tests)
from tests.support import outbox_events  # noqa: F401  (the eligibility tests import it from here)

UAI = "0211089V"
INE_COLUMN = PIX_LEARNER_HEADERS[next(iter(PIX_LEARNER_HEADERS))]


def bea(digits: str) -> str:
    return digits + mod23_letter(digits)


def roster_csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


async def upload(svc, path: str, file_name: str, data: bytes, **params):
    return await svc.http.post(path, files={"file": (file_name, data)}, params=params, timeout=120)


async def upload_roster(svc, file_name: str, data: bytes, uai: str = UAI):
    return await upload(svc, f"/schools/{uai}/rosters", file_name, data)


async def stored_counts(svc) -> dict[str, int]:
    tables = ("learners", "roster_imports", "campaign_imports", "assessments", "assessment_disagreements")
    counts = {t: await svc.pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables}
    counts["outbox"] = await svc.pool.fetchval("SELECT count(*) FROM outbox")
    return counts


def rejected_errors(response, file_name: str) -> list[dict]:
    """The errors of a 422, after checking each names its file, line, column and rule."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"]["file"] == file_name
    errors = error["details"]["errors"]
    assert errors
    for e in errors:
        assert set(e) == {"file", "line", "column", "rule", "message"}
        assert e["file"] == file_name and e["message"]
    return errors


TODAY = date.today()
