"""Pure domain layer of the académie view.

Derives each school's progress through the Phase 3 card (planned, convoked, sessions held,
finalised, results received, livret ready) from the facts the read model holds, classifies the
school (collège, lycée, LP), filters and sorts the list and renders its CSV. No database, no
Kafka, no asyncio: the use cases load ``SchoolFacts`` from the store and call these functions.
"""
