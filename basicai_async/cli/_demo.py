"""``basicai-async demo``: ingest and export against the embedded emulator (no key, no network)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from ._parser import positive_int

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``demo`` command."""
    demo = subparsers.add_parser(
        "demo", help="ingest and export against the embedded emulator (no key, no network)"
    )
    demo.add_argument("--files", type=positive_int, default=300, help="sample files to write (default 300)")
    demo.add_argument(
        "--output", type=Path, default=Path("demo-output"), help="where to write files and export"
    )
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from .._demo import run_demo

    return asyncio.run(run_demo(files=args.files, output=args.output))
