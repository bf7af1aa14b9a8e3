"""Finalisation's use cases, one module per business area, none of them speaking HTTP.

``invigilation`` (the invigilator space on the day), ``finalisation`` (the referent's form),
``results`` (Pix's results files) and ``overdue`` (the overdue check's tick). Each use case is a
function taking what it needs explicitly — a unit of work factory (``ports.Begin``), the time, the
settings values — and raising ``shared.errors.DomainError``; ``app.py`` builds those dependencies
and ``api.py`` / the job call the functions.
"""
