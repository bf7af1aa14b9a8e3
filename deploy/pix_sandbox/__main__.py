"""``python -m deploy.pix_sandbox``: stands in for Pix's results processing (see README.md).

Consumes SessionFinalised from ``certibus.finalisation``; for each, waits the processing delay,
writes the livret scolaire JSON with ``generator.py`` and POSTs it to the finalisation service's
intake, exactly as a school or an operator would post a real file. The offset is committed only after
the POST succeeded (a refused file counts as handled), so a crash re-posts the same bytes, which the
intake recognises as unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.pix_sandbox.generator import generate_class_results, generate_livret_results
from shared.contracts.envelope import Envelope, EnvelopeError
from shared.contracts.events import SessionFinalised
from shared.contracts.topics import FINALISATION
from shared.kafka_security import client_options
from shared.logging import configure_logging

log = structlog.get_logger("pix_sandbox")


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:19092")
    finalisation_url: str = Field(default="http://127.0.0.1:8003", description="the intake's base URL")
    finalisation_api_token: SecretStr | None = Field(
        default=None, description="the intake's FINALISATION_API_TOKEN, sent as a Bearer token"
    )
    pix_sandbox_delay_seconds: float = Field(
        default=2.0, ge=0, description="Pix's processing time, counted from the finalisation"
    )
    pix_sandbox_group_id: str = Field(default="certibus-pix-sandbox")
    pix_sandbox_retry_max_seconds: float = Field(
        default=30.0, gt=0, description="longest wait between retries"
    )
    pix_sandbox_seed: int = Field(
        default=0, description="the run's seed: results derive from it, the learner and the session date"
    )
    log_level: str = Field(default="INFO")
    log_format: str = Field(default="json", pattern="^(json|console)$")


class Sandbox:
    def __init__(self, settings: SandboxSettings, http: httpx.AsyncClient) -> None:
        self.settings, self.http = settings, http

    async def handle(self, record: ConsumerRecord) -> None:
        """One record: ignore what is not a SessionFinalised, else produce and deliver its results."""
        try:
            envelope = Envelope.from_headers(record.headers or [])
        except EnvelopeError as error:
            log.warning("record without a valid envelope skipped", error=str(error), offset=record.offset)
            return
        if envelope.type != SessionFinalised.event_type:
            return
        try:
            event = SessionFinalised.model_validate_json(record.value)
        except ValidationError as error:
            log.error("unreadable SessionFinalised skipped", event_id=envelope.id, error=str(error)[:500])
            return
        await asyncio.sleep(self.processing_wait(record.timestamp / 1000))
        payload: dict[str, Any] = json.loads(record.value)
        # With a Pix Certif number, first the school's class files: rows found by that number among
        # every finalised session of the school (what a school downloading them from Pix Orga posts).
        for division, csv_body in generate_class_results(payload, self.settings.pix_sandbox_seed).items():
            day = datetime.fromisoformat(payload["finalised_at"]).strftime("%Y%m%d")
            await self.deliver(
                event.session_id,
                csv_body,
                envelope.id,
                path=f"/results?uai={event.uai}",
                content_type="text/csv",
                file_name=f"{day}_resultats_{division}.csv",
            )
        body = generate_livret_results(payload, self.settings.pix_sandbox_seed)
        await self.deliver(event.session_id, body, envelope.id)

    def processing_wait(self, published_at: float) -> float:
        """Results come `delay` after the finalisation was published (Kafka timestamp, seconds):
        an old event being replayed is processed at once."""
        delay = self.settings.pix_sandbox_delay_seconds
        elapsed = datetime.now(UTC).timestamp() - published_at
        return max(0.0, min(delay, delay - elapsed))

    async def deliver(
        self,
        session_id: str,
        body: bytes,
        event_id: str,
        *,
        path: str | None = None,
        content_type: str = "application/json",
        file_name: str | None = None,
    ) -> None:
        """POST until the intake answers; 4xx is an answer (logged), 5xx and network errors retry.

        401 and 403 are not answers about the results but a token the two sides disagree on:
        skipping would lose the session's results for good, so they are retried until fixed."""
        path = path or f"/sessions/{session_id}/results"
        url = f"{self.settings.finalisation_url.rstrip('/')}{path}"
        headers = {
            "Content-Type": content_type,
            "X-File-Name": file_name or f"pix_sandbox_{session_id}.json",
        }
        if self.settings.finalisation_api_token is not None:
            headers["Authorization"] = f"Bearer {self.settings.finalisation_api_token.get_secret_value()}"
        wait = 0.5
        while True:
            try:
                response = await self.http.post(url, content=body, headers=headers)
            except httpx.HTTPError as error:
                log.warning(
                    "intake unreachable; retrying", session_id=session_id, error=str(error), wait=wait
                )
            else:
                if response.status_code < 300:
                    report = response.json()
                    missed = len(report.get("unmatched") or []) + len(report.get("ambiguous") or [])
                    (log.error if missed else log.info)(
                        "results delivered" + (" with rows matching no candidate" if missed else ""),
                        session_id=session_id,
                        event_id=event_id,
                        file_name=headers["X-File-Name"],
                        matched=report.get("matched"),
                        missed=missed,
                        unchanged=report.get("unchanged"),
                    )
                    return
                if response.status_code in (401, 403):
                    log.error(
                        "intake refused the sandbox's token (FINALISATION_API_TOKEN); retrying",
                        session_id=session_id,
                        status=response.status_code,
                        code=_error_code(response),
                        wait=wait,
                    )
                elif response.status_code < 500:
                    code = _error_code(response)
                    log.warning(
                        "results refused by the intake",
                        session_id=session_id,
                        event_id=event_id,
                        status=response.status_code,
                        code=code,
                    )
                    return
                else:
                    log.warning(
                        "intake failed; retrying",
                        session_id=session_id,
                        status=response.status_code,
                        wait=wait,
                    )
            await asyncio.sleep(wait)
            wait = min(wait * 2, self.settings.pix_sandbox_retry_max_seconds)


def _error_code(response: httpx.Response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


async def commit_or_carry_on(consumer: AIOKafkaConsumer, record: ConsumerRecord) -> None:
    """Commit past ``record``; a commit the broker refuses (a rebalance after a stall, the broker
    away) is logged and skipped, as the services do: the consumer rejoins its group by itself and
    the record, already delivered, comes back and is delivered again (finalisation's intake keeps
    the first copy of a session's results)."""
    try:
        await consumer.commit({TopicPartition(record.topic, record.partition): record.offset + 1})
    except KafkaError as error:
        log.warning(
            "offset commit failed; the record will be redelivered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=f"{type(error).__name__}: {error}",
        )


async def run(settings: SandboxSettings) -> None:
    consumer = AIOKafkaConsumer(
        FINALISATION,
        **client_options(settings.kafka_bootstrap_servers),
        group_id=settings.pix_sandbox_group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        client_id="certibus-pix-sandbox",
    )
    await consumer.start()
    log.info(
        "pix sandbox started",
        group_id=settings.pix_sandbox_group_id,
        finalisation_url=settings.finalisation_url,
        delay_seconds=settings.pix_sandbox_delay_seconds,
    )
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            sandbox = Sandbox(settings, http)
            async for record in consumer:
                await sandbox.handle(record)
                await commit_or_carry_on(consumer, record)
    finally:
        await consumer.stop()
        log.info("pix sandbox stopped")


async def main() -> None:
    settings = SandboxSettings()
    configure_logging("pix-sandbox", settings.log_level, settings.log_format)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
    with contextlib.suppress(asyncio.CancelledError):
        await run(settings)


if __name__ == "__main__":
    asyncio.run(main())
