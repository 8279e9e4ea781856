"""Every code block of README.md and docs/ runs as a test (Sybil), against a real emulator.

What runs, and how:

- ``python`` blocks run in the page's namespace, top to bottom, so a block may use
  names an earlier block of the same page defined. A block with a top-level
  ``await`` / ``async with`` runs on the page's own event loop.
- ``sh`` blocks run with bash (``set -euo pipefail``) and must exit 0.
- A block right after ``<!-- file: NAME -->`` is not run but written to NAME, as a
  user would save it (a ``pyproject.toml``, a test module, a Kubernetes manifest).
- A block right after ``<!-- not run: REASON -->`` is not run; the reason is
  required (an install line, a server that never exits, a host that is not here).
  Every other block is run: a new block is tested by default.

Each page gets a fresh temporary folder as its working directory, holding
``images/`` (12 small PNGs) and ``frames/`` (4), and the environment a user would
have set: ``BASICAI_API_KEY`` and ``BASICAI_BASE_URL`` point at an emulator
started once for the session (``python -m basicai_async.emulator`` in its own
process, as the docs tell users to run it).
"""

from __future__ import annotations

import ast
import asyncio
import gc
import inspect
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sybil import Document, Example, Region, Sybil
from sybil.parsers.markdown import CodeBlockParser

ROOT = Path(__file__).resolve().parent
DOCS_API_KEY = "docs-key"
_MARK = re.compile(r"<!--\s*(not run|file):\s*(?P<arg>[^>]*?)\s*-->\s*\Z")
_emulator: subprocess.Popen[str] | None = None
_redis: subprocess.Popen[str] | None = None
_redis_url = ""
_base_url = ""


def _marker(document: Document, region: Region) -> tuple[str, str] | None:
    """The ``<!-- not run: ... -->`` or ``<!-- file: ... -->`` line right before a block, if any."""
    before = document.text[: region.start].rstrip("\n ")
    line = before.rsplit("\n", 1)[-1]
    match = _MARK.search(line)
    if match is None:
        return None
    kind, arg = match.group(1), match.group("arg")
    if not arg:
        raise ValueError(f"{document.path}: '<!-- {kind}: -->' needs a reason or a file name")
    return kind, arg


class _Blocks:
    """One language's fenced blocks, less those marked not run; marked files are written instead."""

    def __init__(self, language: str, evaluator: Any = None) -> None:
        # Without an evaluator, a language is data: only its blocks marked as files are used.
        self._run = evaluator is not None
        self._parser = CodeBlockParser(language=language, evaluator=evaluator or _write_file(""))

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self._parser(document):
            mark = _marker(document, region)
            if mark is None:
                if self._run:
                    yield region
            elif mark[0] == "file":
                region.evaluator = _write_file(mark[1])
                yield region


def _needs(document: Document) -> Iterable[Region]:
    """``<!-- needs: redis -->``: from there on, the page has a Redis in ``BASICAI_REDIS_URL``."""
    for match in re.finditer(r"<!--\s*needs:\s*redis\s*-->", document.text):
        yield Region(match.start(), match.end(), "redis", _use_redis)


def _use_redis(example: Example) -> None:
    os.environ["BASICAI_REDIS_URL"] = _start_redis()


def _write_file(name: str) -> Any:
    def write(example: Example) -> None:
        target = Path(example.namespace["docs_dir"]) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(example.parsed))

    return write


def _evaluate_python(example: Example) -> None:
    namespace = example.namespace
    # Blank lines first, so a traceback names the line of the Markdown file.
    source = "\n" * example.line + str(example.parsed)
    code = compile(source, str(example.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    if code.co_flags & inspect.CO_COROUTINE:
        namespace["docs_runner"].run(eval(code, namespace))
    else:
        exec(code, namespace)


def _evaluate_sh(example: Example) -> None:
    namespace = example.namespace
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", str(example.parsed)],
        cwd=namespace["docs_dir"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{example.path}:{example.line}: exit {done.returncode}\n"
            f"--- block ---\n{example.parsed}--- stdout ---\n{done.stdout}--- stderr ---\n{done.stderr}"
        )


def _start_emulator() -> str:
    global _emulator, _base_url
    if _emulator is None:
        _emulator = subprocess.Popen(
            [sys.executable, "-m", "basicai_async.emulator", "--port", "0", "--api-key", DOCS_API_KEY],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert _emulator.stdout is not None
        _base_url = _emulator.stdout.readline().strip()
        if not _base_url.startswith("http"):
            raise RuntimeError(f"the docs' emulator did not start: {_base_url!r}")
    return _base_url


def _start_redis() -> str:
    """A throw-away redis-server on a free loopback port, for the pages that need one."""
    global _redis, _redis_url
    if _redis is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        _redis = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            text=True,
        )
        _redis_url = f"redis://127.0.0.1:{port}/0"
        import redis

        client = redis.Redis.from_url(_redis_url)
        for _ in range(200):  # up to 10 s for the server to listen
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
    return _redis_url


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection made (modules, test items: alive all session) out of the collector.

    A full collection then walks only what the tests themselves allocate: shorter pauses
    of the event loop in the timing tests, whose emulator shares the loop, and a
    slightly faster run. Garbage made before this point is collected first.
    """
    gc.collect()
    gc.freeze()


def pytest_sessionfinish(session: pytest.Session) -> None:
    for process in (_emulator, _redis):
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


_SAVED_ENV = ("BASICAI_API_KEY", "BASICAI_BASE_URL", "BASICAI_REDIS_URL", "PATH")


def _setup(namespace: dict[str, Any]) -> None:
    from basicai_async.emulator import sample_png

    folder = Path(tempfile.mkdtemp(prefix="basicai-docs-"))
    for sub, count in (("images", 12), ("frames", 4)):
        (folder / sub).mkdir()
        for i in range(count):
            (folder / sub / f"{i:04d}.png").write_bytes(sample_png(i, size=16))
    namespace.update(
        __name__="docs",
        docs_dir=str(folder),
        docs_cwd=os.getcwd(),
        docs_env={name: os.environ.get(name) for name in _SAVED_ENV},
        docs_runner=asyncio.Runner(),
    )
    os.environ["BASICAI_API_KEY"] = DOCS_API_KEY
    os.environ["BASICAI_BASE_URL"] = _start_emulator()
    os.environ.pop("BASICAI_REDIS_URL", None)
    # The shell blocks find `basicai-async` and `python` where the SDK is installed.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.chdir(folder)


def _teardown(namespace: dict[str, Any]) -> None:
    namespace["docs_runner"].close()
    os.chdir(namespace["docs_cwd"])
    for name, value in namespace["docs_env"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(namespace["docs_dir"], ignore_errors=True)


pytest_collect_file = Sybil(
    parsers=[
        _needs,
        _Blocks("python", _evaluate_python),
        _Blocks("sh", _evaluate_sh),
        *(_Blocks(language) for language in ("toml", "yaml", "json", "text")),
    ],
    patterns=["README.md", "docs/*.md", "docs/**/*.md"],
    setup=_setup,
    teardown=_teardown,
).pytest()


__all__ = ["pytest_collect_file", "pytest_sessionfinish"]
