"""``basicai-async plugin serve|try``: run a model service, or try one as BasicAI would call it.

``register(subparsers)`` adds the ``plugin`` command to the main parser; each
subcommand sets ``handler`` (parsed args -> exit status). Bad input ends with
one line on stderr and status 1 (2 for usage errors, from argparse).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ._app import KINDS, create_app, serve_app
from ._contract import ContractReport
from ._fetch import DEFAULT_MAX_SIZE, PluginError
from ._loader import load_function
from ._try import try_plugin

__all__ = ["register"]

SECRET_ENV = "BASICAI_PLUGIN_SECRET"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``plugin serve`` and ``plugin try`` to a parser's subcommands."""
    plugin = subparsers.add_parser("plugin", help="serve your own model to BasicAI (Plugin API), or try one")
    commands = plugin.add_subparsers(dest="plugin_command", required=True)
    secret_help = f"shared secret, sent as 'Authorization: Bearer <secret>' (default: ${SECRET_ENV})"

    serve = commands.add_parser(
        "serve",
        help="serve a prediction function as a Plugin API model service",
        description=_SERVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("function", help="module:function or path/to/file.py:function")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=8000, help="port (0 = a free one; default 8000)")
    serve.add_argument("--kind", choices=KINDS, default="image", help="request kind (default image)")
    serve.add_argument(
        "--secret",
        help=f"require 'Authorization: Bearer <secret>' (default: ${SECRET_ENV}). BasicAI's platform "
        "sends no such header: for other clients, or behind a proxy that adds it",
    )
    serve.add_argument(
        "--path",
        default="/",
        help="the URL path answered, as in the model URL registered in BasicAI (default /; "
        "e.g. /pointCloud/recognition); other paths get a 404 naming it",
    )
    serve.add_argument("--concurrency", type=int, default=4, help="items predicted at once (default 4)")
    serve.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds an item may take from its request's arrival; later, it is answered with an "
        "error (default 60). BasicAI itself waits without limit",
    )
    serve.add_argument(
        "--max-size", type=int, default=DEFAULT_MAX_SIZE, help="largest file fetched, in bytes (default 1 GB)"
    )
    serve.add_argument(
        "--allow-private",
        action="store_true",
        help="also fetch from loopback and private addresses: a self-hosted platform's file URLs "
        "need it, and so does `plugin try` (default: public addresses only)",
    )
    serve.set_defaults(handler=_serve)

    trial = commands.add_parser("try", help="send a service the request BasicAI would send for local files")
    trial.add_argument("url", help="the service's URL, e.g. http://127.0.0.1:8000/")
    trial.add_argument("files", nargs="+", type=Path, help="images (or point clouds with --kind pointcloud)")
    trial.add_argument("--kind", choices=KINDS, default="image", help="request kind (default image)")
    trial.add_argument(
        "--images", nargs="*", type=Path, default=[], help="camera images sent with every item"
    )
    trial.add_argument("--camera-config", type=Path, help="camera config sent with every item")
    trial.add_argument("--secret", help=secret_help)
    trial.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")
    trial.add_argument(
        "--labels",
        type=_comma_list,
        metavar="CODE,CODE",
        help="the model's class codes as set in the platform: warn about labels matching none, "
        "or one only by case (labels differing only by case are warned about always)",
    )
    trial.set_defaults(handler=_try)


_SERVE_DESCRIPTION = """\
Serve a prediction function as a BasicAI Plugin API model service.

Connecting it to the platform: register the service's full URL, with --path, as
the model's URL. Each box's label must be one of the model's class codes as set
in the platform, in the same case. A self-hosted platform hands out file URLs on
its own object store (localhost, a LAN address): serve with --allow-private,
which a service reachable from the internet should not use. The platform sends
no Authorization header, so --secret is for other callers (or for a proxy that
adds the header)."""


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _serve(args: argparse.Namespace) -> int:
    try:
        predict = load_function(args.function)
        app = create_app(
            predict,
            kind=args.kind,
            secret=args.secret or os.environ.get(SECRET_ENV) or None,
            concurrency=args.concurrency,
            timeout=args.timeout,
            max_size=args.max_size,
            allow_private=args.allow_private,
            path=args.path,
        )
    except (PluginError, ValueError, TypeError) as exc:
        return _fail(str(exc))
    # Without this the service's per-request lines (and item errors) go nowhere.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(_run_until_stopped(app, args.host, args.port, args.path))
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        pass
    return 0


async def _run_until_stopped(app: Any, host: str, port: int, path: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with serve_app(app, host, port) as url:
        # The first line is the URL, so scripts can read it with one readline.
        print(url.rstrip("/") + path, flush=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Not available on every platform (Windows).
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def _print_report(report: ContractReport) -> None:
    print(json.dumps(report.answer, indent=2, ensure_ascii=False))
    if report.problems:
        print(f"contract: {len(report.problems)} problem(s); BasicAI would reject this answer")
        for problem in report.problems:
            print(f"  {problem}")
    else:
        print("contract: OK")
    print(f"items: {report.ok_items} OK, {len(report.failed_items)} failed")
    for failure in report.failed_items:
        print(f"  {failure}")
    for warning in report.warnings:
        print(f"warning: {warning}")


def _try(args: argparse.Namespace) -> int:
    try:
        report = asyncio.run(
            try_plugin(
                args.url,
                args.files,
                kind=args.kind,
                images=args.images,
                camera_config=args.camera_config,
                secret=args.secret or os.environ.get(SECRET_ENV) or None,
                timeout=args.timeout,
                class_codes=args.labels,
            )
        )
    except PluginError as exc:
        return _fail(str(exc))
    _print_report(report)
    return 0 if report.ok else 1
