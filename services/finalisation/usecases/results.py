"""Results intake: a Pix results file → matched to finalised sessions' candidates → ResultsProcessed.

The rows matching leaves without a candidate are kept (domain/unmatched.py), for the school's
referent to assign by hand (usecases/unmatched.py). A session keeps one current result per candidate; an import merges its matched rows into it and
compares fingerprints (domain ``results.payloads_fingerprint``) before and after. Equal means the
import brought nothing new: nothing is written and nothing is raised, which is what makes a replayed
sandbox event or a school uploading the same file twice harmless. Otherwise the session's whole
merged result set travels in ResultsProcessed, so consumers can apply the latest snapshot.

Set-based whatever the file covers: the sessions' locks, their current results, the changed rows,
the import records and the events are each one statement, not one per session or per row.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from datetime import date, datetime, time
from typing import Any

import structlog

from services.finalisation.domain.matching import KnownCandidate, MatchedResult, MatchReport, match_results
from services.finalisation.domain.results import (
    CertificationResult,
    ResultsImport,
    ResultSource,
    payloads_fingerprint,
)
from services.finalisation.domain.results_csv import parse_class_results_csv
from services.finalisation.domain.results_formats import BOM, PARIS
from services.finalisation.domain.results_livret import parse_livret_scolaire_json
from services.finalisation.domain.unmatched import place_rows
from services.finalisation.usecases.ports import Begin
from services.finalisation.usecases.rooms import unknown_session
from shared.contracts import events
from shared.contracts.referential import COMPETENCE_IDS
from shared.errors import DomainError

log = structlog.get_logger(__name__)


def detect_source(data: bytes, content_type: str | None) -> ResultSource:
    """JSON or CSV by content type; otherwise by the first meaningful byte (`{` is the livret JSON)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.endswith("json"):
        return ResultSource.LIVRET_SCOLAIRE_JSON
    if kind in ("text/csv", "application/csv", "application/vnd.ms-excel"):
        return ResultSource.CLASS_RESULTS_CSV
    head = data[:64].decode("utf-8", errors="ignore").lstrip(BOM + " \t\r\n")
    return ResultSource.LIVRET_SCOLAIRE_JSON if head.startswith("{") else ResultSource.CLASS_RESULTS_CSV


def parse_results(data: bytes, file_name: str, source: ResultSource) -> list[CertificationResult]:
    if source is ResultSource.LIVRET_SCOLAIRE_JSON:
        return parse_livret_scolaire_json(data, file_name)
    return parse_class_results_csv(data, file_name)


def known_candidates(
    finalisation_payload: dict[str, Any], pix_session_number: int | None = None
) -> list[KnownCandidate]:
    """The candidates of a finalised session as SessionFinalised described them, with the session's
    Pix Certif number as now recorded (else as at finalisation)."""
    pix_number = pix_session_number or finalisation_payload.get("pix_session_number")
    return [
        KnownCandidate(
            session_id=finalisation_payload["session_id"],
            session_number=finalisation_payload["session_number"],
            candidate_id=c["candidate_id"],
            first_name=c["first_name"],
            last_name=c["last_name"],
            birthdate=date.fromisoformat(c["birthdate"]),
            ine=c.get("ine"),
            learner_id=c.get("learner_id"),
            pix_session_number=pix_number,
        )
        for c in finalisation_payload["candidates"]
    ]


def _row_summary(result: CertificationResult) -> dict[str, Any]:
    return {
        "certification_id": result.certification_id,
        "first_name": result.first_name,
        "last_name": result.last_name,
        "birthdate": result.birthdate.isoformat(),
        "ine": result.ine,
        "session_number": result.session_number,
    }


def _unmatched_details(report: MatchReport) -> dict[str, Any]:
    return {
        "unmatched": [_row_summary(r) for r in report.unmatched],
        "ambiguous": [
            {
                **_row_summary(a.result),
                "reason": a.reason,
                "candidate_ids": [c.candidate_id for c in a.candidates],
            }
            for a in report.ambiguous
        ],
    }


async def import_results(
    begin: Begin,
    data: bytes,
    *,
    file_name: str,
    content_type: str | None,
    now: datetime,
    session_id: str | None = None,
    uai: str | None = None,
) -> dict[str, Any]:
    """Import one results file, for one session (`session_id`) or for every finalised session it
    matches (optionally of one school); all sessions or none, in one transaction."""
    source = detect_source(data, content_type)
    results = await asyncio.to_thread(parse_results, data, file_name, source)
    file_sha256 = hashlib.sha256(data).hexdigest()

    async with begin() as uow:
        store = uow.store
        if session_id is not None:
            if await store.session(session_id) is None:
                raise unknown_session(session_id)
            recorded = await store.finalisation(session_id, lock=True)  # the lock the merge needs
            if recorded is None:
                raise DomainError(
                    "results.session_not_finalised",
                    "results are taken only for a finalised session",
                    session_id=session_id,
                )
            finalised = {session_id: recorded.payload}
        else:
            finalised = {f.session_id: f.payload for f in await store.finalisations(uai)}
        pix_numbers = await store.pix_session_numbers(list(finalised))
        candidates = [
            c for sid, payload in finalised.items() for c in known_candidates(payload, pix_numbers.get(sid))
        ]
        report = match_results(results, candidates)
        if not report.matched:
            raise DomainError(
                "results.unknown_candidates",
                f"{file_name}: no row matches a candidate of "
                + (f"session {session_id}" if session_id else "a finalised session"),
                rows=len(results),
                **_unmatched_details(report),
            )
        uai_of_session = {sid: payload["uai"] for sid, payload in finalised.items()}
        left = place_rows(
            report,
            candidates,
            uai_of_session,
            file_name=file_name,
            now=now,
            session_id=session_id,
            uai=uai.upper() if uai else None,
        )
        # a certification already held as a candidate's result is not waiting for one: it is a
        # row assigned by hand read again, or the result of a learner erased since (whose row,
        # names blanked, matches no one any more and must not bring the names back)
        held = await store.held_certifications([r.certification_id for r in left])
        await store.keep_unmatched([r for r in left if r.certification_id not in held])
        await store.forget_unmatched([m.result.certification_id for m in report.matched])
        by_session: dict[str, list[MatchedResult]] = defaultdict(list)
        for match in report.matched:
            by_session[match.candidate.session_id].append(match)
        unmatched_rows = len(report.unmatched) + len(report.ambiguous)
        session_ids = sorted(by_session)
        if session_id is None:
            await store.lock_finalisations(session_ids)
        current_results = await store.session_results(session_ids)
        changes: dict[str, dict[str, dict[str, Any]]] = {}
        imports: list[ResultsImport] = []
        raised: list[events.ResultsProcessed] = []
        outcomes = []
        for sid in session_ids:
            current = current_results.get(sid, {})
            incoming = {m.candidate.candidate_id: m.result.to_payload() for m in by_session[sid]}
            merged = {**current, **incoming}
            before = payloads_fingerprint(current.values()) if current else None
            after = payloads_fingerprint(merged.values())
            unchanged = before == after
            if not unchanged:
                changes[sid] = {cid: p for cid, p in incoming.items() if current.get(cid) != p}
                imports.append(
                    ResultsImport(
                        sid, source, file_name, file_sha256, after, len(incoming), unmatched_rows, now
                    )
                )
                pix_number = pix_numbers.get(sid) or finalised[sid].get("pix_session_number")
                raised.append(
                    results_processed(
                        finalised[sid],
                        merged,
                        source,
                        after,
                        unmatched_rows,
                        now,
                        pix_session_number=pix_number,
                    )
                )
            outcomes.append(
                {
                    "session_id": sid,
                    "matched": len(incoming),
                    "unchanged": unchanged,
                    "results_sha256": after,
                }
            )
        await store.replace_results(changes)
        await store.record_imports(imports)
        await uow.emit_many(raised)
    log.info(
        "results imported",
        source=source.value,
        rows=len(results),
        matched=len(report.matched),
        unmatched=len(report.unmatched),
        ambiguous=len(report.ambiguous),
        sessions=len(outcomes),
        unchanged=all(o["unchanged"] for o in outcomes),
    )
    return {
        "file_name": file_name,
        "source": source.value,
        "rows": len(results),
        "matched": len(report.matched),
        **_unmatched_details(report),
        "sessions": outcomes,
        "unchanged": all(o["unchanged"] for o in outcomes),
    }


def results_processed(
    finalisation_payload: dict[str, Any],
    results_by_candidate: dict[str, dict[str, Any]],
    source: ResultSource,
    fingerprint: str,
    unmatched_rows: int,
    now: datetime,
    *,
    pix_session_number: int | None = None,
) -> events.ResultsProcessed:
    candidates = {c["candidate_id"]: c for c in finalisation_payload["candidates"]}
    session_start = datetime.combine(
        date.fromisoformat(finalisation_payload["session_date"]),
        time.fromisoformat(finalisation_payload["session_time"]),
        PARIS,
    )
    results = [
        certification_result(payload, candidates[cid], session_start)
        for cid, payload in sorted(results_by_candidate.items(), key=lambda kv: kv[1]["certification_id"])
    ]
    return events.ResultsProcessed(
        session_id=finalisation_payload["session_id"],
        session_number=finalisation_payload["session_number"],
        uai=finalisation_payload["uai"],
        certification_center=finalisation_payload["certification_center"],
        source=source.value,
        results_sha256=fingerprint,
        results=results,
        unmatched_rows=unmatched_rows,
        processed_at=now,
        pix_session_number=pix_session_number,
    )


def certification_result(
    payload: dict[str, Any], candidate: dict[str, Any], session_start: datetime
) -> events.CertificationResult:
    """A stored result in the contract's shape: the candidate's ids, when the test really started."""
    taken_on = date.fromisoformat(payload["taken_on"]) if payload.get("taken_on") else None
    if candidate.get("started_at"):
        taken_at = datetime.fromisoformat(candidate["started_at"])
    elif taken_on is not None:
        taken_at = datetime.combine(taken_on, session_start.timetz())
    else:
        taken_at = session_start
    levels = payload.get("competence_levels") or {}
    return events.CertificationResult(
        certification_id=payload["certification_id"],
        candidate_id=candidate["candidate_id"],
        learner_id=candidate["learner_id"],
        ine=payload.get("ine") or candidate.get("ine"),
        first_name=payload["first_name"],
        last_name=payload["last_name"],
        birthdate=date.fromisoformat(payload["birthdate"]),
        birthplace=payload.get("birthplace"),
        external_id=payload.get("external_id"),
        status=payload["status"],
        pix_score=payload.get("pix_score"),
        global_level=payload.get("global_level"),
        competence_levels={cid: levels.get(cid) for cid in COMPETENCE_IDS},
        verification_code=payload.get("verification_code"),
        taken_at=taken_at,
        taken_on=taken_on or taken_at.astimezone(PARIS).date(),
        published_at=datetime.fromisoformat(payload["delivered_at"]) if payload.get("delivered_at") else None,
        jury_comment=payload.get("jury_comment"),
    )
