"""What every command shares: the parser class, the client options, running a command with a client."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn

from .._client import AsyncBasicAI

__all__ = ["CommandParser", "add_client_options", "client_handler", "positive_int"]


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose every command takes ``-v`` and reports misuse in one line.

    ``add_subparsers`` makes the commands' parsers of this class too, so ``-v``
    works before or after any command, a plugin's included.
    """

    def __init__(self, *args: object, verbose_default: object = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # SUPPRESS on commands: a -v given before the command is not reset by the command's default.
        self.add_argument(
            "-v", "--verbose", action="store_true", default=verbose_default, help="log every API call"
        )

    def error(self, message: str) -> NoReturn:
        """One line on stderr and exit status 2 (argparse prints the whole usage first)."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_client_options(parser: argparse.ArgumentParser, *, default: object = argparse.SUPPRESS) -> None:
    """``--api-key``, ``--base-url`` and ``--redis-url``, for the commands that call the API."""
    parser.add_argument("--api-key", default=default, help="API key (default: $BASICAI_API_KEY)")
    parser.add_argument(
        "--base-url", default=default, help="API base URL (default: $BASICAI_BASE_URL or BasicAI's)"
    )
    parser.add_argument(
        "--redis-url",
        default=default,
        help="share the key's rate limit through this Redis (default: $BASICAI_REDIS_URL)",
    )


def client_handler(
    run: Callable[[AsyncBasicAI, argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    """A command handler that runs ``run(client, args)`` with a client from the global options."""

    def handler(args: argparse.Namespace) -> int:
        async def with_client() -> int:
            async with AsyncBasicAI(args.api_key, base_url=args.base_url, redis_url=args.redis_url) as client:
                return await run(client, args)

        return asyncio.run(with_client())

    return handler


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1 (ids, counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def say(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr)
