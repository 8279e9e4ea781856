"""Pytest fixtures for your own tests: a local BasicAI emulator and a client connected to it.

Installed with the SDK as a pytest plugin (entry point ``pytest11``), so the
fixtures are there without any import. They need pytest-asyncio.

Example::

    async def test_my_ingest(basicai_client, basicai_emulator):
        ds = await basicai_client.datasets.create(name="t", type="IMAGE")
        await my_pipeline(basicai_client, ds.id)
        assert len(basicai_emulator.state.datasets) == 1
        assert basicai_emulator.max_window_count(TEST_API_KEY, 1.0) <= 100

Fixtures:
    basicai_dialect: the emulator's dialect, ``None`` (``$BASICAI_EMULATOR_DIALECT``,
        else ``"guide"``) unless overridden; run a test against both shapes with
        ``@pytest.mark.parametrize("basicai_dialect", ["guide", "xtreme1"])``.
    basicai_emulator: an ``Emulator`` on a free loopback port, with one key
        (``TEST_API_KEY``, team ``TEST_TEAM``) and BasicAI's real limits.
    basicai_client: an ``AsyncBasicAI`` on that emulator with that key.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from ._client import AsyncBasicAI

if TYPE_CHECKING:
    # Imported by the fixture: the plugin loads in every pytest run of a project
    # that installs the SDK, and most of those runs never start an emulator.
    from .emulator import Emulator

__all__ = ["TEST_API_KEY", "TEST_TEAM", "basicai_client", "basicai_dialect", "basicai_emulator"]

TEST_API_KEY = "basicai-test-key"
"""The key the ``basicai_emulator`` fixture accepts and ``basicai_client`` uses."""

TEST_TEAM = "basicai-test-team"
"""The team of ``TEST_API_KEY``."""

_F = TypeVar("_F", bound=Callable[..., Any])


def _async_fixture(function: _F) -> _F:
    """``pytest_asyncio.fixture``, or where pytest-asyncio is missing a fixture that says so.

    The plugin loads in every pytest run of an environment that has the SDK, so a
    missing pytest-asyncio must not break those runs, only the use of these fixtures.
    """
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - exercised only without pytest-asyncio

        @functools.wraps(function)
        def needs_asyncio(*args: Any, **kwargs: Any) -> Any:
            raise pytest.UsageError(
                "the basicai_async fixtures need pytest-asyncio: pip install pytest-asyncio"
            )

        return cast(_F, pytest.fixture(needs_asyncio))
    return cast(_F, pytest_asyncio.fixture(function))


@pytest.fixture
def basicai_dialect() -> str | None:
    """The dialect ``basicai_emulator`` speaks (override or parametrize it); None = the default."""
    return None


@_async_fixture
async def basicai_emulator(basicai_dialect: str | None) -> AsyncIterator[Emulator]:
    """A running emulator with the key ``TEST_API_KEY``, closed after the test."""
    from .emulator import Emulator

    async with Emulator(keys={TEST_API_KEY: TEST_TEAM}, dialect=basicai_dialect) as emulator:
        yield emulator


@_async_fixture
async def basicai_client(basicai_emulator: Emulator) -> AsyncIterator[AsyncBasicAI]:
    """An ``AsyncBasicAI`` connected to ``basicai_emulator``, closed after the test."""
    async with AsyncBasicAI(TEST_API_KEY, base_url=basicai_emulator.base_url) as client:
        yield client
