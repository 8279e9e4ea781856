"""``basicai-async upload SOURCE...``: upload files into a dataset, resumably with ``--manifest``.

A source is a local directory, an object-storage prefix (``s3://bucket/prefix/``,
``gs://...``, ``az://...``, read through obstore with the cloud's environment
variables) or the ``http(s)://`` URL of one file (more with ``--url-list``).
Every option works for each kind; ``--shard I/N`` makes this process one of N
workers splitting the same sources.
"""

from __future__ import annotations

import argparse
import errno
import itertools
import os
import shlex
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio

from .._client import AsyncBasicAI
from .._cloud import is_http_url, is_object_url, object_sources, url_sources
from .._errors import ConfigurationError
from .._progress import ConsoleProgress
from .._shard import Shard
from ..uploader import UploadReport
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
        nargs="*",
        metavar="SOURCE",
        help="a directory, an object-storage prefix (s3://bucket/prefix/, gs://..., az://...) "
        "or the http(s) URL of a file",
    )
    target = up.add_mutually_exclusive_group(required=True)
    target.add_argument("--dataset", type=positive_int, help="id of an existing dataset")
    target.add_argument("--create", metavar="NAME", help="create a dataset with this name")
    up.add_argument("--type", default="IMAGE", help="type of the created dataset (default IMAGE)")
    up.add_argument("--batch", type=positive_int, help="register the files into this batch of the dataset")
    up.add_argument(
        "--scene",
        type=positive_int,
        help="register the files as frames of this scene (with --batch: a scene inside that batch)",
    )
    up.add_argument(
        "--manifest",
        type=Path,
        help="journal that makes the upload resumable (SQLite; a *.jsonl name keeps JSON lines)",
    )
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


def _shown(source: str) -> str:
    """A source as messages repeat it: a URL's query (a signature) is not, the user has the URL."""
    return source.partition("?")[0] + ("?..." if "?" in source else "")


def _resume_command(args: argparse.Namespace) -> str:
    """The command that resumes this upload: ``--dataset ID`` (never ``--create`` again), same target."""
    parts = ["basicai-async", "upload", *(shlex.quote(_shown(s)) for s in args.sources)]
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


Skipped = list[tuple[Path, str]]


def _survey(directory: Path, pattern: str, manifest: Path | None) -> Skipped:
    """Walk the tree once before anything is created, holding no list of its files: the files
    matching that cannot be uploaded (a broken link, a loop...) with why.

    Hidden files and the manifest itself are left out on purpose, without a word.
    A directory that cannot be read fails the command before any request, naming
    it: skipping it silently would report an upload complete that is not. The
    files themselves are walked again, lazily, as the uploader takes them
    (``_walk_files``), so ten million files are never listed in memory.
    """
    if not directory.is_dir():
        raise ConfigurationError(f"{directory} is not a directory")
    unreadable: list[OSError] = []
    skipped: Skipped = []
    for root, dirs, names in os.walk(directory, onerror=unreadable.append):
        for name in dirs:
            path = Path(root, name)
            if not name.startswith(".") and path.is_symlink():
                skipped.append((path, "a symbolic link to a directory (not followed)"))
        for name in names:
            path = Path(root, name)
            if _wanted(directory, path, pattern):
                why = _not_a_file(path)
                if why is not None:
                    skipped.append((path, why))
    if unreadable:
        first = unreadable[0]
        more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
        raise ConfigurationError(
            f"cannot read directory {first.filename}: {first.strerror or first}{more}; "
            "fix its permissions or leave it out with --pattern"
        )
    return sorted(skipped)


def _wanted(directory: Path, path: Path, pattern: str) -> bool:
    return not path.name.startswith(".") and path.relative_to(directory).match(pattern)


def _walk_files(directory: Path, pattern: str, manifest: Path | None) -> Iterator[Path]:
    """The files to upload, lazily, in path order (each directory's names sorted): what
    ``_survey`` did not skip, less the manifest and its SQLite companions. Blocking: step
    it in a worker thread."""
    skip: set[Path] = set()
    if manifest is not None:
        resolved = manifest.resolve()
        skip = {
            resolved,
            *(resolved.with_name(resolved.name + end) for end in ("-wal", "-shm", ".jsonl.bak")),
        }
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            path = Path(root, name)
            if _wanted(directory, path, pattern) and _not_a_file(path) is None and path.resolve() not in skip:
                yield path


async def _walked(directory: Path, pattern: str, manifest: Path | None) -> AsyncIterator[Path]:
    """``_walk_files`` stepped in a worker thread, a thousand files at a time."""
    files = _walk_files(directory, pattern, manifest)
    while chunk := await anyio.to_thread.run_sync(lambda: list(itertools.islice(files, 1000))):
        for path in chunk:
            yield path


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` is not a regular file to upload, or None when it is one."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        if path.is_symlink():
            return f"a broken symbolic link (to {os.readlink(path)})"
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    return "not a regular file (a device, a socket or a pipe)"


def _say_skipped(directory: str, skipped: Skipped) -> None:
    if not skipped:
        return
    names = ", ".join(f"{path.relative_to(directory)} ({why})" for path, why in skipped[:10])
    more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    say(f"skipped {len(skipped)} in {directory} that cannot be uploaded: {names}{more}")


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
    if not args.sources and args.url_list is None:
        raise ConfigurationError("nothing to upload: give a directory, a prefix or URLs, or --url-list FILE")
    kinds = [(source, _kind(source)) for source in args.sources]
    urls = [s for s, kind in kinds if kind == "url"]
    if args.url_list is not None:
        urls += await anyio.to_thread.run_sync(_read_url_list, args.url_list)
    # Directories are surveyed now (an unreadable one fails before anything is created) and
    # walked as the uploader takes their files, as object-storage prefixes are listed page by page.
    for s, kind in kinds:
        if kind == "directory":
            skipped = await anyio.to_thread.run_sync(_survey, Path(s), args.pattern, args.manifest)
            _say_skipped(s, skipped)
            args.skipped += len(skipped)
    listings = {s: object_sources(s, pattern=args.pattern) for s, kind in kinds if kind == "object"}
    looked_up = url_sources(urls) if urls else None

    async def chained() -> AsyncIterator[Source]:
        for source, kind in kinds:
            if kind == "directory":
                async for path in _walked(Path(source), args.pattern, args.manifest):
                    yield path
            elif kind == "object":
                async for item in listings[source]:
                    yield item
        if looked_up is not None:
            async for one in looked_up:
                yield one

    return chained()


async def _upload(client: AsyncBasicAI, args: argparse.Namespace) -> int:
    args.skipped = 0
    sources = await _nonempty(args, await _sources(args))
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
    unsure = report.maybe_registered_count
    shard = f" (shard {args.shard})" if args.shard is not None else ""
    skipped = f"; {args.skipped} skipped while listing (named above)" if args.skipped else ""
    print(
        f"{report.registered_count} of {report.total} files{shard} registered in dataset {dataset_id}, "
        f"{report.failed_count} failed" + (f", {unsure} maybe registered" if unsure else "") + skipped
    )
    for failed in report.failed[:20]:
        print(f"  {failed.name}: {failed.stage}: {failed.error}", file=sys.stderr)
    if not report.failed and not unsure:
        return 0
    say(_retry_hint(args, report))
    return 1


async def _nonempty(args: argparse.Namespace, sources: AsyncIterator[Source]) -> AsyncIterator[Source]:
    """``sources`` unchanged; ``ConfigurationError`` before anything is created when there is none."""
    first = await anext(sources, None)
    if first is None:
        where = ", ".join(_shown(s) for s in args.sources) + (
            f" and --url-list {args.url_list}" if args.url_list is not None else ""
        )
        matching = f" matching --pattern {args.pattern!r}" if args.pattern != "*" else ""
        created = f"; dataset {args.create!r} was not created" if args.dataset is None else ""
        raise ConfigurationError(f"nothing to upload: no file{matching} in {where}{created}")

    async def again() -> AsyncIterator[Source]:
        yield first
        async for source in sources:
            yield source

    return again()


def _retry_hint(args: argparse.Namespace, report: UploadReport) -> str:
    """What to do after a run that left files unregistered: true of this run's outcome."""
    if args.manifest is not None:
        return f"to retry what is not registered (unsure files are looked up first): {_resume_command(args)}"
    registered, unsure = report.registered_count, report.maybe_registered_count
    if not registered and not unsure:
        return "no file was registered: once the cause above is fixed, rerunning the same command is safe"
    said = []
    if registered:
        said.append(
            f"{registered} files are registered: rerunning without a manifest would register them again"
        )
    if unsure:
        said.append(f"{unsure} may be registered: look them up before uploading them again")
    return "; ".join(said) + "; upload the failed files alone, or use --manifest"
