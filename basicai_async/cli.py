"""The ``basicai-async`` command line (also ``python -m basicai_async``).

Configured by ``BASICAI_API_KEY`` / ``BASICAI_BASE_URL`` or ``--api-key`` / ``--base-url``::

    basicai-async upload ./images --create cars --type IMAGE --manifest upload.jsonl
    basicai-async upload ./images --dataset 42 --batch 7
    basicai-async export 42 -o results.jsonl
    basicai-async datasets list
    basicai-async emulator --port 8080
    basicai-async demo
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio

from ._client import AsyncBasicAI
from ._errors import BasicAIError, ConfigurationError
from ._progress import ConsoleProgress
from .export import export_results

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="basicai-async", description="BasicAI OpenAPI from the command line."
    )
    parser.add_argument("--api-key", help="API key (default: $BASICAI_API_KEY)")
    parser.add_argument("--base-url", help="API base URL (default: $BASICAI_BASE_URL or BasicAI's)")
    parser.add_argument(
        "--redis-url", help="share the key's rate limit through this Redis (default: $BASICAI_REDIS_URL)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every API call")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("upload", help="upload a directory's files into a dataset")
    up.add_argument("directory", type=Path)
    target = up.add_mutually_exclusive_group(required=True)
    target.add_argument("--dataset", type=int, help="id of an existing dataset")
    target.add_argument("--create", metavar="NAME", help="create a dataset with this name")
    up.add_argument("--type", default="IMAGE", help="type of the created dataset (default IMAGE)")
    into = up.add_mutually_exclusive_group()
    into.add_argument("--batch", type=int, help="register the files into this batch of the dataset")
    into.add_argument("--scene", type=int, help="register the files as frames of this scene")
    up.add_argument("--manifest", type=Path, help="JSONL journal that makes the upload resumable")
    up.add_argument("--pattern", default="*", help="glob of the files to take (default *)")
    up.add_argument("--concurrency", type=int, default=16, help="PUTs in flight (default 16)")

    ex = sub.add_parser("export", help="write a dataset's annotation results as JSON lines")
    ex.add_argument("dataset", type=int)
    ex.add_argument("-o", "--output", type=Path, required=True)
    ex.add_argument("--source-id", type=int, help="only this annotation source")

    ds = sub.add_parser("datasets", help="dataset commands")
    ds_sub = ds.add_subparsers(dest="datasets_command", required=True)
    ls = ds_sub.add_parser("list", help="list datasets")
    ls.add_argument("--name", help="name substring")
    ls.add_argument("--type", help="dataset type")

    # Parsed by the emulator itself (see main); listed here for --help.
    sub.add_parser("emulator", help="run the local BasicAI emulator (--port, --api-key, --no-limits)")

    demo = sub.add_parser("demo", help="ingest and export against the embedded emulator (no key, no network)")
    demo.add_argument("--files", type=int, default=300, help="sample files to write (default 300)")
    demo.add_argument(
        "--output", type=Path, default=Path("demo-output"), help="where to write files and export"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        # The emulator has its own options; argparse would try to read them as ours.
        from .emulator._cli import main as emulator_main

        return emulator_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s")
    if args.command == "demo":
        from ._demo import run_demo

        return asyncio.run(run_demo(files=args.files, output=args.output))
    try:
        return asyncio.run(_run(args))
    except BasicAIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; rerun with the same --manifest to resume", file=sys.stderr)
        return 130


async def _run(args: argparse.Namespace) -> int:
    async with AsyncBasicAI(args.api_key, base_url=args.base_url, redis_url=args.redis_url) as client:
        if args.command == "upload":
            return await _upload(client, args)
        if args.command == "export":
            summary = await export_results(client, args.dataset, args.output, source_id=args.source_id)
            print(f"exported {summary.results} results of {summary.data_items} data items to {args.output}")
            return 0
        async for ds in client.datasets.list(name=args.name, type=args.type):
            print(f"{ds.id}\t{ds.type or ''}\t{ds.name}")
        return 0


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


if __name__ == "__main__":  # pragma: no cover
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
