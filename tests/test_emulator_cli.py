"""The standalone emulator: ``python -m basicai_async.emulator``, in-process and as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import pytest
from test_emulator_support import Lines

from basicai_async.emulator import __all__ as public_names
from basicai_async.emulator._cli import main, parse_args, serve

pytestmark = pytest.mark.integration


async def test_serve_prints_base_url_then_generated_key() -> None:
    out, stop = Lines(), asyncio.Event()
    task = asyncio.create_task(serve(parse_args(["--port", "0", "--no-limits"]), stop, out))
    while out.getvalue().count("\n") < 2:
        await out.printed.wait()
        out.printed.clear()
    base_url, key_line = out.getvalue().splitlines()[:2]
    assert base_url.startswith("http://127.0.0.1:")
    assert base_url.endswith("/api/v1")
    key = key_line.removeprefix("api key: ")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base_url}/dataset/list", headers={"Authorization": f"ApiKey {key}"}) as resp:
            assert (await resp.json())["code"] == "OK"
        async with http.get(f"{base_url}/dataset/list", headers={"Authorization": "ApiKey other"}) as resp:
            assert resp.status == 401
    stop.set()
    await task


async def test_module_runs_standalone_until_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "basicai_async.emulator",
        "--port",
        "0",
        "--api-key",
        "given",
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    try:
        base_url = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": "ApiKey given"}
            async with http.post(
                f"{base_url}/dataset/create", json={"name": "n", "type": "IMAGE"}, headers=headers
            ) as resp:
                assert (await resp.json())["data"]["name"] == "n"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


def test_main_returns_on_keyboard_interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(coro: object) -> None:
        coro.close()  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(asyncio, "run", interrupted)
    assert main(["--port", "0"]) == 0


def test_every_module_has_all() -> None:
    import importlib
    import pkgutil

    import basicai_async.emulator as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        assert hasattr(module, "__all__"), info.name
        assert module.__doc__, info.name
    assert "Emulator" in public_names
