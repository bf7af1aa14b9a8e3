"""SQL of the documents: the fingerprints of those issued and the cache of those rendered."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class IssuedDocument:
    """A document whose fingerprint was recorded when it was issued (ConvocationsIssued)."""

    kind: str
    file_name: str
    sha256: str
    size_bytes: int
    candidate_ids: tuple[uuid.UUID, ...]
    issued_at: datetime


class DocumentQueries:
    """Issued and rendered documents, mixed into ``SchedulerStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def insert_document(
        self,
        *,
        session_id: uuid.UUID | None,
        uai: str,
        kind: str,
        file_name: str,
        sha256: str,
        size_bytes: int,
        candidate_ids: Sequence[uuid.UUID],
        now: datetime,
    ) -> uuid.UUID:
        document_id = uuid.uuid4()
        await self.conn.execute(
            "INSERT INTO documents (document_id, session_id, uai, kind, file_name, sha256, size_bytes,"
            " candidate_ids, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            document_id,
            session_id,
            uai,
            kind,
            file_name,
            sha256,
            size_bytes,
            list(candidate_ids),
            now,
        )
        return document_id

    async def rendered(self, key: str, inputs_sha256: str) -> bytes | None:
        """The document ``key`` as rendered from these inputs, None when it never was (or they changed)."""
        content = await self.conn.fetchval(
            "SELECT content FROM rendered_documents WHERE key = $1 AND inputs_sha256 = $2", key, inputs_sha256
        )
        return None if content is None else bytes(content)

    async def keep_rendered(self, key: str, inputs_sha256: str, content: bytes) -> None:
        await self.conn.execute(
            "INSERT INTO rendered_documents (key, inputs_sha256, content) VALUES ($1, $2, $3)"
            " ON CONFLICT (key) DO UPDATE SET inputs_sha256 = $2, content = $3, rendered_at = now()",
            key,
            inputs_sha256,
            content,
        )

    async def session_documents(self, session_id: uuid.UUID) -> list[IssuedDocument]:
        rows = await self.conn.fetch(
            "SELECT kind, file_name, sha256, size_bytes, candidate_ids, issued_at FROM documents"
            " WHERE session_id = $1 ORDER BY issued_at",
            session_id,
        )
        return [
            IssuedDocument(
                r["kind"],
                r["file_name"],
                r["sha256"],
                r["size_bytes"],
                tuple(r["candidate_ids"]),
                r["issued_at"],
            )
            for r in rows
        ]
