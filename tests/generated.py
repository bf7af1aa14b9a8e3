"""The main job's generated learners (deploy/local/generator.py) as eligibility's domain holds them.

The generator is a client of certibus and has its own `Learner`; a test that compares what a parser
read with what was written, or feeds generated learners to a domain rule, converts them here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from deploy.local.generator import Learner
from services.eligibility.domain.roster import RosterLearner, Sex


def roster_learners(learners: Iterable[Learner]) -> list[RosterLearner]:
    """Field for field the same learners, as `RosterLearner` values."""
    return [RosterLearner(**{**asdict(x), "sex": Sex(x.sex.value)}) for x in learners]
