"""The scheduler's use cases, one module per business area: schools, plans, sessions, enrolment, documents.

Each use case is a function taking its dependencies explicitly: ``begin`` (a factory of units of
work: one transaction, its store, its outbox), a ``SchoolClock``, the certification calendar, the
password hasher… never the runtime, a request or an HTTP status. It checks, changes state and
emits its events in one transaction, or raises ``DomainError`` (before anything is written, or
inside the transaction, which then rolls back), so a refusal never leaves a trace. app.py builds
the dependencies once; api.py only translates HTTP to these calls and their results to bodies.
"""
