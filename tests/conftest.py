"""Shared test set-up."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Generator
from types import SimpleNamespace
from typing import Any

import aioresponses.core
import pytest
from aiohttp import ClientResponse


class _CompatResponse(ClientResponse):
    """aioresponses 0.7.9 builds responses without aiohttp 3.14's new ``stream_writer``.

    aiohttp 3.14 is a security release, so we keep it and give the mock what it lacks
    (aioresponses issue #289): a writer whose request is already sent.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)


aioresponses.core.ClientResponse = _CompatResponse  # type: ignore[misc]


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The loop set for this thread, without creating one as get_event_loop() would."""
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    return getattr(local, "_loop", None)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """Close the loop looptime's plugin creates around a *sync* test.

    looptime 0.9 calls ``policy.get_event_loop()`` for every test, which makes a new
    loop when a sync test runs with none set; nobody closes it, and its
    ResourceWarning later fails an unrelated test under ``filterwarnings = error``.
    """
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        return (yield)
    before = _current_loop()
    try:
        return (yield)
    finally:
        after = _current_loop()
        if after is not None and after is not before and not after.is_running():
            asyncio.set_event_loop(None)
            after.close()
