"""What a long run shows while it runs: typed progress events, and OpenTelemetry spans and metrics.

Progress events (``UploadStarted``, ``FileDone``, ``FileFailed``, ...) reach the
``on_event`` consumer given to the uploader or the export; see ``_events`` for
the contract. OpenTelemetry (the ``basicai-async[otel]`` extra) is imported
only when it is installed and a client uses it: docs/observability.md lists
the spans, attributes and metrics.
"""

from ._events import (
    BatchRegistered,
    BytesSent,
    EventConsumer,
    ExportEvent,
    ExportFinished,
    ExportProgress,
    ExportStarted,
    FileDone,
    FileFailed,
    LimiterWaited,
    ProgressEvent,
    UploadEvent,
    UploadFinished,
    UploadStarted,
)

__all__ = [
    "BatchRegistered",
    "BytesSent",
    "EventConsumer",
    "ExportEvent",
    "ExportFinished",
    "ExportProgress",
    "ExportStarted",
    "FileDone",
    "FileFailed",
    "LimiterWaited",
    "ProgressEvent",
    "UploadEvent",
    "UploadFinished",
    "UploadStarted",
]
