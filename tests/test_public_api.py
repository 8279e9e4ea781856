"""Every module of the package declares ``__all__``, and every exported name exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import basicai_async


def _module_names() -> list[str]:
    """Every module and package under basicai_async; an import error during the walk fails the test."""
    failures: list[str] = []
    names = [
        info.name
        for info in pkgutil.walk_packages(basicai_async.__path__, "basicai_async.", onerror=failures.append)
    ]
    assert failures == [], f"could not walk: {failures}"
    return ["basicai_async", *names]


MODULES = _module_names()


async def test_the_walk_finds_the_core_modules() -> None:
    # Guards the walk itself: an empty or partial walk would make the next test vacuous.
    for name in ("basicai_async._http", "basicai_async._client", "basicai_async.models.envelope"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
async def test_module_declares_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, (list, tuple)), f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what it does not define: {missing}"


@pytest.mark.parametrize("name", basicai_async.__all__)
async def test_public_name_is_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from basicai_async import {name}", namespace)
    assert namespace[name] is getattr(basicai_async, name)
