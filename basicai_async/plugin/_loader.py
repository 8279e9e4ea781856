"""Finding the user's prediction function from ``module:function`` or ``path/to/file.py:function``."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ._fetch import PluginError

__all__ = ["load_function"]


def _from_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise PluginError(f"{path} is not a file")
    name = f"basicai_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def load_function(target: str) -> Callable[..., Any]:
    """The callable named by ``module:function`` (dotted attributes allowed) or ``file.py:function``.

    A module name is looked up from the current directory first, as ``python -m`` does.
    Raises ``PluginError`` with one line saying what is wrong.
    """
    where, sep, attribute = target.rpartition(":")
    if not sep or not where or not attribute:
        raise PluginError(f"expected module:function or path/to/file.py:function, got {target!r}")
    try:
        if where.endswith(".py") or "/" in where or os.sep in where:
            module = _from_file(Path(where))
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(where)
    except PluginError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and (where == exc.name or where.startswith(exc.name + ".")):
            raise PluginError(f"no module named {where!r} (run from the directory that holds it)") from exc
        raise PluginError(f"importing {where} failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise PluginError(f"importing {where} failed: {type(exc).__name__}: {exc}") from exc
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise PluginError(f"{where} has no attribute {attribute!r}")
        found = getattr(found, part)
    if not callable(found):
        raise PluginError(f"{where}:{attribute} is a {type(found).__name__}, not a function")
    return found  # type: ignore[no-any-return]
