import pytest

from services.scheduler.app import definition
from shared.clock import ManualClock
from tests.component.scheduler.builders import NOW


@pytest.fixture
async def svc(start_service):
    """A real scheduler on a scratch schema, its clock held at NOW (a month before the lycée window)."""
    svc = await start_service(definition)
    svc.runtime.clock = ManualClock(NOW)
    return svc
