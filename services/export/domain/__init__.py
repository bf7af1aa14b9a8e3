"""Pure domain layer of the export service.

Renders what leaves certibus for schools and the Ministry — the Pix Orga class results CSV, the
attestations PDF, the livret scolaire (LSU/LSL) JSON — and decides who may fetch it. No database,
no Kafka, no asyncio: handlers load read-model records, call these functions and store the bytes
with :func:`services.export.domain.files.write_atomically`.
"""
