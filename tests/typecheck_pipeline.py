"""Checked by mypy (``make typecheck``), never run: types follow ``response_type`` and the pagers.

Each ``# type: ignore[...]`` marks a line mypy must reject; under ``--strict``
(``warn_unused_ignores``) an ignore that is not needed is itself an error, so a
wrong ``response_type`` that type-checks would fail ``make typecheck``.
"""

from __future__ import annotations

from typing import Any, assert_type

from basicai_async import AsyncBasicAI, AsyncIdPager, AsyncPager, Dataset, Item
from basicai_async._http import Pipeline
from basicai_async.models import IdPage, Page


async def typed_pipeline(pipeline: Pipeline) -> None:
    assert_type(await pipeline.request("GET", "/dataset/info/1", response_type=Dataset), Dataset)
    assert_type(await pipeline.request("GET", "/dataset/info", response_type=list[Dataset]), list[Dataset])
    assert_type(await pipeline.request("GET", "/dataset/list", response_type=Page[Dataset]), Page[Dataset])
    assert_type(await pipeline.request("POST", "/dataset/delete/1", idempotent=True), None)


async def wrong_response_type_is_an_error(pipeline: Pipeline) -> Dataset:
    one: Dataset = await pipeline.request("GET", "/dataset/info", response_type=list[Dataset])  # type: ignore[arg-type]
    return one


async def nothing_returned_is_not_data(pipeline: Pipeline) -> Dataset:
    return await pipeline.request("POST", "/dataset/delete/1")  # type: ignore[func-returns-value, return-value]


async def escape_hatch_and_pagers(client: AsyncBasicAI) -> None:
    assert_type(await client.request("GET", "/dataset/info/1"), Any)
    assert_type(await client.datasets.get(1), Dataset)
    assert_type(client.datasets.list(), AsyncPager[Dataset])
    assert_type(client.items.iter_by_id(1), AsyncIdPager[Item])
    async for page in client.items.list(1).pages():
        assert_type(page, Page[Item])
        assert_type(page.total, int | None)
    async for step in client.datasets.iter_by_id().pages():
        assert_type(step, IdPage[Dataset])
    async for dataset in client.datasets.list():
        assert_type(dataset, Dataset)
