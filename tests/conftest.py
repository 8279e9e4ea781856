"""Shared test set-up."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import aiohttp
import aioresponses.core
import pytest
from _fakes import FakeApi
from aiohttp import ClientResponse
from aioresponses import aioresponses as Aioresponses

from basicai_async.emulator import DIALECT_ENV, DIALECTS


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
    """Give a *sync* test no event loop, explicitly, before looptime's plugin looks for one.

    looptime 0.9 calls ``policy.get_event_loop()`` around every test. With no loop
    set in the main thread, that call makes one: a loop nobody closes (its
    ResourceWarning would fail a later test) and, since Python 3.12, a
    ``DeprecationWarning: There is no current event loop`` that fails the test itself
    under ``filterwarnings = error``. ``set_event_loop(None)`` says "no loop here" the
    supported way: ``get_event_loop()`` then raises the RuntimeError looptime expects
    for a sync test, on 3.11 to 3.13 alike, and no warning needs filtering.
    """
    if not inspect.iscoroutinefunction(pyfuncitem.obj) and _current_loop() is None:
        asyncio.set_event_loop(None)
    return (yield)


# Integration modules run twice: against the guide's shapes and against the variants
# the real server may send (API.md), by the emulator's dialect switch in the environment.
_BOTH_DIALECTS = (
    "test_integration_",
    "test_ingestion_",
    "test_upload",
    "test_export",
    "test_examples",
    "test_testing_plugin",
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the integration modules over both emulator dialects."""
    if metafunc.module.__name__.startswith(_BOTH_DIALECTS):
        metafunc.parametrize("emulator_dialect", sorted(DIALECTS), indirect=True, scope="module")


@pytest.fixture(scope="module", autouse=True)
def emulator_dialect(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The dialect every emulator of the module speaks (in-process or not); None outside integration."""
    dialect: str | None = getattr(request, "param", None)
    with pytest.MonkeyPatch.context() as patch:
        if dialect is not None:
            patch.setenv(DIALECT_ENV, dialect)
        yield dialect


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def mocked() -> Iterator[Aioresponses]:
    """aioresponses mocking every aiohttp request of the test (unit tests of the pipeline only)."""
    with Aioresponses() as m:
        yield m


@contextmanager
def _emulator_process(key: str, *options: str) -> Iterator[str]:
    """The emulator in its own process, as users run it (``options`` such as ``--no-limits``
    added to its command line); its first stdout line is the base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "basicai_async", "emulator", "--port", "0", "--api-key", key, *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        assert url.endswith("/api/v1"), url
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.fixture(scope="module")
def emulator_process(emulator_dialect: str | None) -> Callable[[str], Any]:
    """Start ``python -m basicai_async emulator`` for a key: ``with emulator_process(KEY) as url``
    (or ``emulator_process(KEY, "--no-limits")``).

    It depends on the module's dialect so that a module run in both dialects gets
    one emulator process per dialect (the process reads the dialect from the environment).
    """
    return _emulator_process


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    """A client over a recorded, mocked API (see ``_fakes.FakeApi``)."""
    async with FakeApi.open() as fake:
        yield fake
