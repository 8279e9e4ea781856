"""``basicai-async upload DIR``: upload a directory's files into a dataset, resumably with ``--manifest``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import anyio

from .._client import AsyncBasicAI
from .._errors import ConfigurationError
from .._progress import ConsoleProgress
from ._parser import add_client_options, client_handler, positive_int

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``upload`` command."""
    up = subparsers.add_parser("upload", help="upload a directory's files into a dataset")
    up.add_argument("directory", type=Path)
    target = up.add_mutually_exclusive_group(required=True)
    target.add_argument("--dataset", type=positive_int, help="id of an existing dataset")
    target.add_argument("--create", metavar="NAME", help="create a dataset with this name")
    up.add_argument("--type", default="IMAGE", help="type of the created dataset (default IMAGE)")
    into = up.add_mutually_exclusive_group()
    into.add_argument("--batch", type=positive_int, help="register the files into this batch of the dataset")
    into.add_argument("--scene", type=positive_int, help="register the files as frames of this scene")
    up.add_argument("--manifest", type=Path, help="JSONL journal that makes the upload resumable")
    up.add_argument("--pattern", default="*", help="glob of the files to take (default *)")
    up.add_argument("--concurrency", type=positive_int, default=16, help="PUTs in flight (default 16)")
    add_client_options(up)
    up.set_defaults(handler=client_handler(_upload), on_interrupt=_on_interrupt)


def _on_interrupt(args: argparse.Namespace) -> str:
    if args.manifest is not None:
        return f"interrupted; rerun with the same --manifest {args.manifest} to resume"
    return "interrupted; files registered so far stay registered (--manifest makes an upload resumable)"


def _list_files(directory: Path, pattern: str, manifest: Path | None) -> list[Path]:
    """The files to upload: hidden files and the manifest itself are left out."""
    if not directory.is_dir():
        raise ConfigurationError(f"{directory} is not a directory")
    skip = manifest.resolve() if manifest is not None else None
    return sorted(
        p
        for p in directory.rglob(pattern)
        if p.is_file() and not p.name.startswith(".") and p.resolve() != skip
    )


async def _upload(client: AsyncBasicAI, args: argparse.Namespace) -> int:
    files = await anyio.to_thread.run_sync(_list_files, args.directory, args.pattern, args.manifest)
    dataset_id = args.dataset
    if dataset_id is None:
        dataset_id = (await client.datasets.create(name=args.create, type=args.type)).id
        print(f"created dataset {dataset_id} ({args.create})")
    with ConsoleProgress() as progress:
        uploader = client.uploader(concurrency=args.concurrency, progress=progress)
        report = await uploader.upload(
            dataset_id, files, batch_id=args.batch, scene_id=args.scene, manifest=args.manifest
        )
    print(
        f"{len(report.succeeded)} of {len(report.results)} files registered in dataset {dataset_id}, "
        f"{len(report.failed)} failed"
    )
    for failed in report.failed[:20]:
        print(f"  {failed.name}: {failed.stage}: {failed.error}", file=sys.stderr)
    return 1 if report.failed else 0
