"""The school staff's console: Phase 3 in a browser, server-rendered in French with the DSFR.

Unlike the five services it keeps no state of its own and consumes no event: each page is read from
the services' public HTTP APIs with the signed-in person's own access token (so the services decide
what they may see), and the files (convocations, class CSVs, attestations) are passed through.
"""
