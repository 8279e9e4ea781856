"""A local BasicAI server for demos, integration tests and benchmarks.

Every endpoint of the API under ``/api/v1`` with the documented envelope,
paging, auth, validation codes and exact per-key rate limits, plus an S3-like
object store for pre-signed uploads and switchable fault injection.

In-process::

    from basicai_async.emulator import Emulator, FaultRule

    async with Emulator(keys={"my-key": "my-team"}) as emu:
        print(emu.base_url)            # http://127.0.0.1:<port>/api/v1
        emu.faults.set(FaultRule(error_rate=0.2))
        ...
        assert emu.max_window_count("my-key", 1.0) <= 100

``Emulator(dialect="xtreme1")`` answers in the variant shapes of docs/shapes.md (what
BasicAI's open-source platform sends) instead of the guide's.

``sample_png(seed)`` makes a small, valid image to upload in demos and tests.

Standalone: ``python -m basicai_async.emulator --port 8080 --api-key KEY [--dialect xtreme1]``.
"""

from ._app import API_PREFIX, build_app
from ._auth import ApiKey, RequestLog, RequestRecord
from ._context import Context
from ._dialects import DIALECTS, Dialect, GuideDialect, Xtreme1Dialect
from ._emulator import DEFAULT_DIALECT, DIALECT_ENV, SERVER_LIMITS, Emulator
from ._faults import STORE_ENDPOINT, Fault, FaultRule, Faults
from ._samples import sample_png
from ._state import DATASET_TYPES, NewDataRec, State
from ._store import STORE_PREFIX, ObjectStore

__all__ = [
    "API_PREFIX",
    "DATASET_TYPES",
    "DEFAULT_DIALECT",
    "DIALECTS",
    "DIALECT_ENV",
    "SERVER_LIMITS",
    "STORE_ENDPOINT",
    "STORE_PREFIX",
    "ApiKey",
    "Context",
    "Dialect",
    "Emulator",
    "Fault",
    "FaultRule",
    "Faults",
    "GuideDialect",
    "NewDataRec",
    "ObjectStore",
    "RequestLog",
    "RequestRecord",
    "State",
    "Xtreme1Dialect",
    "build_app",
    "sample_png",
]
