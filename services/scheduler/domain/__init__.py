"""Pure rules of the scheduler: calendar, planning, sessions, codes, enrolment, documents.

Nothing here does I/O besides returning bytes (PDF, zip); handlers, the API and the store call it.
Every refusal is a `DomainError` carrying a machine-readable `code` and a French message.
"""
