import pytest

from services.eligibility.app import definition


@pytest.fixture
async def eligibility(start_service):
    """A real eligibility service on a scratch schema (real Postgres, real Kafka for its relay)."""
    return await start_service(definition)
