"""``basicai-async datasets list``: the datasets of the key's team."""

from __future__ import annotations

import argparse
from typing import Any

from .._client import AsyncBasicAI
from ._parser import add_client_options, client_handler

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``datasets`` command and its subcommands."""
    ds = subparsers.add_parser("datasets", help="dataset commands")
    commands = ds.add_subparsers(dest="datasets_command", required=True, metavar="COMMAND")
    ls = commands.add_parser("list", help="list datasets")
    ls.add_argument("--name", help="name substring")
    ls.add_argument("--type", help="dataset type")
    add_client_options(ls)
    ls.set_defaults(handler=client_handler(_list))


async def _list(client: AsyncBasicAI, args: argparse.Namespace) -> int:
    async for ds in client.datasets.list(name=args.name, type=args.type):
        print(f"{ds.id}\t{ds.type or ''}\t{ds.name}")
    return 0
