"""``basicai-async upload SOURCE...``: upload files into a dataset, resumably with ``--manifest``.

A source is a local directory, an object-storage prefix (``s3://bucket/prefix/``,
``gs://...``, ``az://...``, read through obstore with the cloud's environment
variables) or the ``http(s)://`` URL of one file (more with ``--url-list``).
Every option works for each kind; ``--shard I/N`` makes this process one of N
workers splitting the same sources.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio

from .._client import AsyncBasicAI
from .._cloud import is_http_url, is_object_url, object_sources, url_sources
from .._errors import ConfigurationError
from .._progress import ConsoleProgress
from .._shard import Shard
from ..uploader._checks import Source
from ._parser import add_client_options, client_handler, positive_int, say

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``upload`` command."""
    up = subparsers.add_parser(
        "upload", help="upload files (a directory, an s3:// gs:// az:// prefix, URLs) into a dataset"
    )
    up.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a directory, an object-storage prefix (s3://bucket/prefix/, gs://..., az://...) "
        "or the http(s) URL of a file",
    )
    target = up.add_mutually_exclusive_group(required=True)
    target.add_argument("--dataset", type=positive_int, help="id of an existing dataset")
    target.add_argument("--create", metavar="NAME", help="create a dataset with this name")
    up.add_argument("--type", default="IMAGE", help="type of the created dataset (default IMAGE)")
    into = up.add_mutually_exclusive_group()
    into.add_argument("--batch", type=positive_int, help="register the files into this batch of the dataset")
    into.add_argument("--scene", type=positive_int, help="register the files as frames of this scene")
    up.add_argument("--manifest", type=Path, help="JSONL journal that makes the upload resumable")
    up.add_argument("--pattern", default="*", help="glob of the files to take (default *)")
    up.add_argument(
        "--url-list", type=Path, metavar="FILE", help="also upload the http(s) file URLs in FILE, one a line"
    )
    up.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="be worker I of N (0 <= I < N): upload only the files whose name hashes to shard I",
    )
    up.add_argument("--concurrency", type=positive_int, default=16, help="PUTs in flight (default 16)")
    add_client_options(up)
    up.set_defaults(handler=client_handler(_upload), on_interrupt=_on_interrupt)


def _shard(text: str) -> Shard:
    """An argparse type: ``I/N``."""
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _resume_command(args: argparse.Namespace) -> str:
    """The command that resumes this upload: ``--dataset ID`` (never ``--create`` again), same target."""
    # A URL's query (a signature) is not repeated in a message: the user has the URL list.
    shown = [s.partition("?")[0] + ("?..." if "?" in s else "") for s in args.sources]
    parts = ["basicai-async", "upload", *(shlex.quote(s) for s in shown)]
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
    if args.url_list is not None:
        parts += ["--url-list", shlex.quote(str(args.url_list))]
    if args.shard is not None:
        parts += ["--shard", str(args.shard)]
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


def _kind(source: str) -> str:
    """``"object"``, ``"url"`` or ``"directory"``; ``ConfigurationError`` for anything else."""
    if is_object_url(source):
        return "object"
    if is_http_url(source):
        return "url"
    if "://" in source:
        raise ConfigurationError(
            f"{source.partition('?')[0]}: not a source this command reads; give a directory, "
            "an s3://, gs:// or az:// prefix, or an http(s) URL"
        )
    if not Path(source).is_dir():
        raise ConfigurationError(
            f"{source} is not a directory (nor an s3://, gs://, az:// prefix or an http(s) URL)"
        )
    return "directory"


def _read_url_list(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigurationError(f"cannot read --url-list {path}: {exc.strerror or exc}") from None
    urls = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    for url in urls:
        if not is_http_url(url):
            raise ConfigurationError(f"--url-list {path}: {url.partition('?')[0]} is not an http(s) URL")
    return urls


async def _sources(args: argparse.Namespace) -> AsyncIterator[Source]:
    """Every source named on the command line, in order; listings and look-ups as they are consumed.

    Everything that can be checked without listing (kinds, directories, URL
    syntax, obstore installed) is checked first, so a typo fails before a
    dataset is created or a call is made.
    """
    kinds = [(source, _kind(source)) for source in args.sources]
    urls = [s for s, kind in kinds if kind == "url"]
    if args.url_list is not None:
        urls += await anyio.to_thread.run_sync(_read_url_list, args.url_list)
    # Directories are listed now (an unreadable one fails before anything is created);
    # object-storage prefixes page by page as the uploader consumes them.
    files = {
        s: await anyio.to_thread.run_sync(_list_files, Path(s), args.pattern, args.manifest)
        for s, kind in kinds
        if kind == "directory"
    }
    listings = {s: object_sources(s, pattern=args.pattern) for s, kind in kinds if kind == "object"}
    looked_up = url_sources(urls) if urls else None

    async def chained() -> AsyncIterator[Source]:
        for source, kind in kinds:
            if kind == "directory":
                for path in files[source]:
                    yield path
            elif kind == "object":
                async for item in listings[source]:
                    yield item
        if looked_up is not None:
            async for one in looked_up:
                yield one

    return chained()


async def _upload(client: AsyncBasicAI, args: argparse.Namespace) -> int:
    sources = await _sources(args)
    if args.dataset is None:
        args.dataset = (await client.datasets.create(name=args.create, type=args.type)).id
        print(f"created dataset {args.dataset} ({args.create})")
    dataset_id = args.dataset
    with ConsoleProgress() as progress:
        uploader = client.uploader(concurrency=args.concurrency, on_event=progress)
        report = await uploader.upload(
            dataset_id,
            sources,
            batch_id=args.batch,
            scene_id=args.scene,
            manifest=args.manifest,
            shard=args.shard,
        )
    unsure = len(report.maybe_registered)
    shard = f" (shard {args.shard})" if args.shard is not None else ""
    print(
        f"{len(report.succeeded)} of {len(report.results)} files{shard} registered in dataset {dataset_id}, "
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
