"""The ``basicai-async`` command line (also ``python -m basicai_async``).

Configured by ``BASICAI_API_KEY`` / ``BASICAI_BASE_URL`` / ``BASICAI_REDIS_URL`` or
``--api-key`` / ``--base-url`` / ``--redis-url`` (before or after the command, as ``-v`` is)::

    basicai-async upload ./images --create cars --type IMAGE --manifest upload.db
    basicai-async upload ./images --dataset 42 --batch 7
    basicai-async export 42 -o results.jsonl
    basicai-async datasets list
    basicai-async -v emulator --port 8080
    basicai-async demo
    basicai-async plugin serve mymodel:predict --port 8000

Each command lives in a module that exposes ``register(subparsers)``: it adds its
parser and sets ``handler`` (``args -> exit status``) and, optionally,
``on_interrupt`` (``args -> what to tell the user after Ctrl-C``). A new command
is one more module in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .._errors import BasicAIError
from ..plugin import _cli as _plugin
from . import _datasets, _demo, _emulator, _export, _upload
from ._parser import CommandParser, add_client_options, say

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (_upload, _export, _datasets, _emulator, _demo, _plugin)
"""The modules whose ``register(subparsers)`` add the commands, in ``--help`` order."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options, then one subcommand per module of ``COMMANDS``."""
    parser = CommandParser(
        prog="basicai-async", description="BasicAI OpenAPI from the command line.", verbose_default=False
    )
    add_client_options(parser, default=None)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    A ``BasicAIError`` or bad input ends the command with one line on stderr
    and status 1; Ctrl-C with a line saying what to do next and status 130.
    """
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s")
    try:
        status: int = args.handler(args)
    except BasicAIError as exc:
        say(f"error: {_one_line(str(exc))}")
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        say(f"error: {exc.strerror or exc}{where}")
        return 1
    except ValueError as exc:
        # Argument checks of the SDK (ids, names, sizes) raise ValueError before any call.
        say(f"error: {_one_line(str(exc))}")
        return 1
    except KeyboardInterrupt:
        on_interrupt = getattr(args, "on_interrupt", None)
        say(on_interrupt(args) if on_interrupt is not None else "interrupted")
        return 130
    return status


def _one_line(message: str) -> str:
    return " ".join(message.split())
