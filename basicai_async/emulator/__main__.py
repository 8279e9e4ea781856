"""``python -m basicai_async.emulator --port 8080 --api-key KEY [--no-limits]``."""

import sys

from ._cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
