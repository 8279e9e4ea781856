"""``basicai-async emulator``: the local emulator, with the emulator's own options."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``emulator`` command, its options defined by the emulator itself."""
    # Imported here, not at the top: only building the parser needs the emulator's options.
    from ..emulator._cli import add_arguments

    emu = subparsers.add_parser("emulator", help="run the local BasicAI emulator")
    add_arguments(emu)
    emu.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ..emulator._cli import run

    return run(args)
