"""``python -m basicai_async.emulator``: run the emulator standalone until interrupted.

The first line printed is the base URL (so scripts can read it with one
``readline``); when no ``--api-key`` is given a key is generated and printed on
the second line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from ._dialects import DIALECTS
from ._emulator import DIALECT_ENV, SERVER_LIMITS, Emulator

__all__ = ["add_arguments", "main", "parse_args", "run", "serve"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (``basicai-async emulator`` is built with it too)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 = a free one; default 8080)")
    parser.add_argument("--api-key", action="append", default=[], help="an API key (repeatable)")
    parser.add_argument("--team", default="default", help="the team of the keys")
    parser.add_argument("--no-limits", action="store_true", help="do not enforce rate limits")
    parser.add_argument("--storage-dir", default=None, help="where uploads go (default: a temp dir)")
    parser.add_argument("--presign-ttl", type=float, default=3600.0, help="seconds pre-signed URLs live")
    parser.add_argument(
        "--dialect",
        choices=sorted(DIALECTS),
        default=None,
        help="answer shapes: guide (the published guide's; default) or xtreme1 (the real server's "
        f"variants, see docs/shapes.md); default ${DIALECT_ENV} or guide",
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(prog="python -m basicai_async.emulator", description=__doc__)
    add_arguments(parser)
    return parser.parse_args(argv)


async def serve(
    args: argparse.Namespace, stop: asyncio.Event | None = None, out: TextIO = sys.stdout
) -> None:
    """Run an emulator configured by ``args`` until ``stop`` is set (or SIGINT/SIGTERM)."""
    stop = stop or asyncio.Event()
    keys: list[str] = list(args.api_key)
    generated = not keys
    if generated:
        keys.append("emu-" + secrets.token_urlsafe(18))
    emulator = Emulator(
        dict.fromkeys(keys, args.team),
        limits=None if args.no_limits else SERVER_LIMITS,
        storage_dir=args.storage_dir,
        presign_ttl=args.presign_ttl,
        host=args.host,
        port=args.port,
        dialect=getattr(args, "dialect", None),
    )
    loop = asyncio.get_running_loop()
    async with emulator:
        print(emulator.base_url, file=out, flush=True)
        if generated:
            print(f"api key: {keys[0]}", file=out, flush=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Not available on every platform (Windows) nor off the main thread.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)


def run(args: argparse.Namespace) -> int:
    """Serve as ``args`` say until interrupted (Ctrl-C is the normal way to stop); returns 0."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m basicai_async.emulator``."""
    return run(parse_args(argv))
