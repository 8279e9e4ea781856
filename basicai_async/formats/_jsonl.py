"""JSON lines, the export's own format: one annotation result a line, camelCase, as the API sends it.

Each line is the result (``dataId``, ``sourceId``, ``instances``, ...) with its
data item's ``dataName`` and ``dataFiles`` (name, size, width/height when the
server sent them, URL) beside it, so a reader needs no second pass. Data items
without results write no line.
"""

from __future__ import annotations

from typing import IO, Any

import msgspec

from .._exported import ExportedData, ExportedFile
from ._base import Converter, Tally

__all__ = ["JsonLinesConverter"]

_FLUSH_BYTES = 64 * 1024


class _DataOf(msgspec.Struct, rename="camel", omit_defaults=True):
    data_name: str | None = None
    data_files: list[ExportedFile] = msgspec.field(default_factory=list)


class JsonLinesConverter(Converter):
    """JSON lines: a result a line, with its data item's name and files."""

    name = "jsonl"
    description = "BasicAI's results as JSON lines, each with its data item's name and files (the default)"
    writes_file = True

    def __init__(self, out: Any, tally: Tally) -> None:
        super().__init__(out, tally)
        self._stream: IO[bytes] = out.open("wb") if not hasattr(out, "write") else out
        self._encoder = msgspec.json.Encoder()
        self._pending = bytearray()
        self._line = bytearray()
        self.results = 0

    def add(self, data: ExportedData) -> None:
        if not data.results:
            return
        extra = self._encoder.encode(_DataOf(data.name, data.files))
        for result in data.results:
            self._encoder.encode_into(result, self._line)
            if len(extra) > 2:
                # `{"dataName":...,"dataFiles":[...]}` spliced in before the result's closing brace.
                self._line[-1:] = b","
                self._line += extra[1:]
            self._line += b"\n"
            self._pending += self._line
            self.results += 1
            self.tally.objects += len(result.instances)
        if len(self._pending) >= _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self.bytes_written += len(self._pending)
            self._pending.clear()

    def abort(self) -> None:
        # As before: the lines written so far stay (the CLI says the file is incomplete).
        self.close()

    def close(self) -> None:
        self._flush()
        self._stream.flush()
        if not hasattr(self.out, "write"):
            self._stream.close()
        self.files_written = 1
