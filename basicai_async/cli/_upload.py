"""``basicai-async upload DIR``: upload a directory's files into a dataset, resumably with ``--manifest``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import anyio

from .._client import AsyncBasicAI
from .._errors import ConfigurationError
from .._progress import ConsoleProgress
from ._parser import add_client_options, client_handler, positive_int, say

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


def _resume_command(args: argparse.Namespace) -> str:
    """The command that resumes this upload: ``--dataset ID`` (never ``--create`` again), same target."""
    parts = ["basicai-async", "upload", shlex.quote(str(args.directory))]
    if args.dataset is not None:
        parts += ["--dataset", str(args.dataset)]
    else:
        # Interrupted before the dataset was created: creating it is still to do.
        parts += ["--create", shlex.quote(args.create), "--type", shlex.quote(args.type)]
    if args.batch is not None:
        parts += ["--batch", str(args.batch)]
    if args.scene is not None:
        parts += ["--scene", str(args.scene)]
    if args.pattern != "*":
        parts += ["--pattern", shlex.quote(args.pattern)]
    parts += ["--manifest", shlex.quote(str(args.manifest))]
    return " ".join(parts)


def _on_interrupt(args: argparse.Namespace) -> str:
    if args.manifest is not None:
        return f"interrupted; rerun with the same --manifest to resume: {_resume_command(args)}"
    return "interrupted; files registered so far stay registered (--manifest makes an upload resumable)"


def _list_files(directory: Path, pattern: str, manifest: Path | None) -> list[Path]:
    """The files to upload: hidden files and the manifest itself are left out.

    A directory that cannot be read fails the command before any request, naming
    it: skipping it silently would report an upload complete that is not.
    """
    if not directory.is_dir():
        raise ConfigurationError(f"{directory} is not a directory")
    skip = manifest.resolve() if manifest is not None else None
    unreadable: list[OSError] = []
    found = []
    for root, _dirs, names in os.walk(directory, onerror=unreadable.append):
        for name in names:
            path = Path(root, name)
            rel = path.relative_to(directory)
            if not name.startswith(".") and rel.match(pattern) and path.is_file() and path.resolve() != skip:
                found.append(path)
    if unreadable:
        first = unreadable[0]
        more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        raise ConfigurationError(
            f"cannot read directory {first.filename}: {first.strerror or first}{more}; "
            "fix its permissions or leave it out with --pattern"
        )
    return sorted(found)


async def _upload(client: AsyncBasicAI, args: argparse.Namespace) -> int:
    files = await anyio.to_thread.run_sync(_list_files, args.directory, args.pattern, args.manifest)
    if args.dataset is None:
        args.dataset = (await client.datasets.create(name=args.create, type=args.type)).id
        print(f"created dataset {args.dataset} ({args.create})")
    dataset_id = args.dataset
    with ConsoleProgress() as progress:
        uploader = client.uploader(concurrency=args.concurrency, on_event=progress)
        report = await uploader.upload(
            dataset_id, files, batch_id=args.batch, scene_id=args.scene, manifest=args.manifest
        )
    unsure = len(report.maybe_registered)
    print(
        f"{len(report.succeeded)} of {len(report.results)} files registered in dataset {dataset_id}, "
        f"{len(report.failed)} failed" + (f", {unsure} maybe registered" if unsure else "")
    )
    for failed in report.failed[:20]:
        print(f"  {failed.name}: {failed.stage}: {failed.error}", file=sys.stderr)
    if not report.failed and not unsure:
        return 0
    if args.manifest is not None:
        say(f"to retry what is not registered (unsure files are looked up first): {_resume_command(args)}")
    else:
        say(
            "rerunning without a manifest would register the registered files again: "
            "upload the failed files alone, or use --manifest"
        )
    return 1
