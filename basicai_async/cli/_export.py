"""``basicai-async export DATASET -o FILE``: a dataset's annotation results as JSON lines."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._client import AsyncBasicAI
from .._progress import ConsoleProgress
from ..export import export_results
from ._parser import add_client_options, client_handler, positive_int

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``export`` command."""
    ex = subparsers.add_parser("export", help="write a dataset's annotation results as JSON lines")
    ex.add_argument("dataset", type=positive_int)
    ex.add_argument("-o", "--output", type=Path, required=True)
    ex.add_argument("--source-id", type=positive_int, help="only this annotation source")
    add_client_options(ex)
    ex.set_defaults(handler=client_handler(_export), on_interrupt=_on_interrupt)


def _on_interrupt(args: argparse.Namespace) -> str:
    return f"interrupted; {args.output} is incomplete: rerun the export to write it whole"


async def _export(client: AsyncBasicAI, args: argparse.Namespace) -> int:
    if not args.output.parent.is_dir():
        # Checked before any call: a typo in the path should not cost a listing.
        raise FileNotFoundError(2, "no such directory", str(args.output.parent))
    with ConsoleProgress() as progress:
        summary = await export_results(
            client, args.dataset, args.output, source_id=args.source_id, on_event=progress
        )
    print(f"exported {summary.results} results of {summary.data_items} data items to {args.output}")
    return 0
