"""What a school reads, on the in-memory read model: its files as produced, and the refusals."""

from __future__ import annotations

import pytest

from services.export.domain.uai import school_uai
from services.export.usecases import exports
from services.export.usecases.rebuild import CLASS_RESULTS
from shared.errors import DomainError
from tests.events import learner
from tests.unit.export.fakes import FakeStore

UAI = "0751234A"


def refusal(call, *args) -> str:
    """The code of the DomainError ``call(*args)`` raises."""
    with pytest.raises(DomainError) as caught:
        call(*args)
    return caught.value.code


async def async_refusal(awaitable) -> str:
    with pytest.raises(DomainError) as caught:
        await awaitable
    return caught.value.code


def test_a_school_route_takes_seven_digits_and_a_letter_in_any_case():
    assert school_uai(" 0751234a ") == UAI
    assert school_uai("1000000X") == "1000000X"  # the shape only: no check letter here
    for wrong in ("12345", "07512345", "075123AA", ""):
        assert refusal(school_uai, wrong) == "uai.invalid"


async def test_a_class_file_is_refused_for_an_unknown_class_then_for_nothing_published(tmp_path):
    store = FakeStore()
    file = exports.class_file
    assert await async_refusal(file(store, tmp_path, UAI, "3A", CLASS_RESULTS)) == "class.not_found"
    await store.upsert_learners([(learner(UAI, "solo", division="3A"), True)])
    assert await async_refusal(file(store, tmp_path, UAI.lower(), "3a", CLASS_RESULTS)) == "export.no_results"
    assert await async_refusal(exports.readiness(store, "12345", "3A")) == "uai.invalid"


async def test_before_the_first_livret_a_school_gets_an_empty_one(tmp_path):
    file_name, content = await exports.school_livret(FakeStore(), tmp_path, UAI)
    assert file_name is None and content == exports.EMPTY_LIVRET
