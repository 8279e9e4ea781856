"""client.batches against a mocked API: add and remove (an empty batch)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from _fakes import FakeApi

from basicai_async._client import AsyncBasicAI
from basicai_async._errors import OperationFailedError
from basicai_async.models import Batch


async def test_add(api: FakeApi) -> None:
    api.answer("POST", "/dataset/addBatch/7", {"id": 3, "name": "week-1", "datasetId": 7})
    assert await api.client.batches.add(7, name="week-1") == Batch(id=3, name="week-1", dataset_id=7)
    api.assert_call(api.only_call(), "POST", "/dataset/addBatch/7", json={"name": "week-1"})


async def test_remove(api: FakeApi) -> None:
    api.answer("POST", "/dataset/removeBatch/7/3")
    assert await api.client.batches.remove(7, 3) is None
    api.assert_call(api.only_call(), "POST", "/dataset/removeBatch/7/3")


async def test_remove_of_a_batch_that_is_not_empty_raises_the_servers_refusal(api: FakeApi) -> None:
    api.answer("POST", "/dataset/removeBatch/7/3", code="OPERATION_FAILED")
    with pytest.raises(OperationFailedError):
        await api.client.batches.remove(7, 3)
    assert len(api.calls) == 1


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c.batches.add(0, name="b"), ValueError, "dataset_id"),
        (lambda c: c.batches.add(7, name=""), ValueError, "name"),
        (lambda c: c.batches.add(7, name=None), TypeError, "name"),
        (lambda c: c.batches.remove(7, -3), ValueError, "batch_id"),
        (lambda c: c.batches.remove("7", 3), TypeError, "dataset_id"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    api: FakeApi, call: Callable[[AsyncBasicAI], Awaitable[object]], error: type[Exception], match: str
) -> None:
    await api.assert_refused_before_any_request(call, error, match)
