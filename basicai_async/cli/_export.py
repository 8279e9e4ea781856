"""``basicai-async export DATASET -o OUT [--format F]``: results as JSON lines or a training format."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._client import AsyncBasicAI
from .._progress import ConsoleProgress
from ..export import ExportSummary, export_results
from ..formats import FORMATS
from ._parser import add_client_options, client_handler, positive_int

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``export`` command."""
    ex = subparsers.add_parser(
        "export", help="write a dataset's annotation results as JSON lines or a training format"
    )
    ex.add_argument("dataset", type=positive_int)
    ex.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="a file for jsonl, a new or empty directory otherwise",
    )
    ex.add_argument(
        "--format",
        choices=list(FORMATS),
        default="jsonl",
        help="; ".join(f"{name}: {converter.description}" for name, converter in FORMATS.items()),
    )
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
            client, args.dataset, args.output, format=args.format, source_id=args.source_id, on_event=progress
        )
    print(_describe(summary, args.output))
    return 0


def _describe(summary: ExportSummary, output: Path) -> str:
    """The summary a user reads: what was written, and what was clipped or left out and why."""
    head = f"exported {summary.results} results of {summary.data_items} data items to {output}"
    if summary.format != "jsonl":
        head += f" ({summary.format}: {summary.objects} objects in {summary.files_written} files)"
    lines = [head]
    if summary.clipped:
        lines.append(f"clipped to their image: {summary.clipped} objects")
        lines += [
            f"  data {c.data_id} ({c.data_name}) object {c.object_id}" for c in summary.clipped_objects[:20]
        ]
    if summary.skipped:
        lines.append(f"not converted: {summary.skipped} objects")
        lines += [f"  {count} x {reason}" for reason, count in summary.skipped_by_reason.items()]
        lines += [
            f"  data {s.data_id} ({s.data_name}) object {s.object_id}: {s.reason}"
            for s in summary.skipped_objects[:20]
        ]
        if summary.skipped > 20:
            lines.append(
                f"  ... {summary.skipped - 20} more (ExportSummary.skipped_objects names up to 1000)"
            )
    return "\n".join(lines)
