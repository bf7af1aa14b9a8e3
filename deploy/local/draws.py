"""Who is absent and who aborts on the day: drawn from the run's seed and the learner's INE alone.

Never from ids the services generate or the order of calls, so one seed gives the same day whatever
the interleaving (issue 11); the catch-up week (deploy/local/catch_up.py) and the forgotten student
(deploy/local/late_enrolment.py) read the same draws.
"""

from __future__ import annotations

import random
from typing import Any


def candidate_day(seed: int, candidate: dict[str, Any]) -> tuple[bool, bool]:
    """(absent, aborted) for a learner on the day: drawn from the seed and the INE alone."""
    rng = random.Random(f"{seed}:{candidate.get('ine') or candidate.get('learner_id')}")
    absent = rng.random() < 0.05
    return absent, not absent and rng.random() < 0.03


def counts_as_started(seed: int, candidate: dict[str, Any], catch_up: bool) -> bool:
    """A started test that gives the learner a livret line of their own: on the first day who was
    not absent; in the catch-up week who was (an aborted learner's line is replaced, not added)."""
    absent = candidate_day(seed, candidate)[0]
    return absent if catch_up else not absent
