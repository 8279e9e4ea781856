"""Bulk uploads against the emulator over loopback: bytes land, every file is accounted for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from basicai_async import (
    MAX_PRESIGNED_SIZE,
    AsyncBasicAI,
    BytesSent,
    FileDone,
    FileFailed,
    UploadEvent,
    UploadSource,
    UploadStarted,
)
from basicai_async._errors import (
    FileFormatNotSupportedError,
    FileTooLargeError,
    InvalidSourceError,
    UploadError,
)
from basicai_async._sources import guess_mime_type
from basicai_async._validate import check_file_size
from basicai_async.emulator import Emulator
from basicai_async.uploader import Uploader, UploadReport, UploadResult
from basicai_async.uploader._feed import WINDOW

pytestmark = pytest.mark.integration

KEY = "upload-bulk-key"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsyncBasicAI]:
    async with AsyncBasicAI(KEY, base_url=emu.base_url) as c:
        yield c


def _payload(i: int) -> bytes:
    return f"file {i} ".encode() * (1 + i % 7)


class Recorder:
    """An ``on_event`` consumer that remembers what the events said."""

    def __init__(self) -> None:
        self.started_with: list[tuple[int, int]] = []
        self.bytes = 0
        self.done: list[UploadResult] = []

    def __call__(self, event: UploadEvent) -> None:
        if isinstance(event, UploadStarted):
            self.started_with.append((event.to_upload, event.bytes))
        elif isinstance(event, BytesSent):
            self.bytes += event.nbytes
        elif isinstance(event, (FileDone, FileFailed)):
            self.done.append(event.result)


async def test_two_thousand_small_files_all_land_byte_for_byte(emu: Emulator, client: AsyncBasicAI) -> None:
    ds = await client.datasets.create(name="bulk", type="IMAGE")
    payloads = {f"img-{i:04d}.png": _payload(i) for i in range(2000)}
    sources = [UploadSource.from_bytes(name, data) for name, data in payloads.items()]
    progress = Recorder()

    report = await client.uploader(concurrency=32, on_event=progress).upload(ds.id, sources)

    assert [r.name for r in report.results] == list(payloads)
    assert report.failed == []
    assert len(report.succeeded) == 2000
    report.raise_for_failures()
    assert report.bytes_uploaded == sum(len(d) for d in payloads.values())
    for result in report.results:
        assert result.ok
        assert result.data_id is not None
        assert result.stage is None
        assert not result.resumed
        assert emu.read_object(result.path or "") == payloads[result.name]
    rec = emu.state.datasets[ds.id]
    data = [item for item in rec.items.values() if item.kind == "DATA"]
    assert sorted(item.name for item in data) == sorted(payloads)
    assert {item.id for item in data} == {r.data_id for r in report.results}
    # Progress: a start per window of sources taken, every byte once, every file finished once.
    assert len(progress.started_with) == 2000 // WINDOW
    assert sum(files for files, _ in progress.started_with) == 2000
    assert sum(nbytes for _, nbytes in progress.started_with) == report.bytes_uploaded
    assert progress.bytes == report.bytes_uploaded
    assert sorted(r.name for r in progress.done) == sorted(payloads)
    # Batched: 20 pre-sign calls and 20 registrations for 2000 files, nothing else.
    paths = [r.path for r in emu.requests(KEY)]
    assert sum("batchGeneratePreSignedUploadUrl" in p for p in paths) == 20
    assert sum("batchAddData" in p for p in paths) == 20
    assert len(paths) == 41  # + the dataset's creation


async def test_files_from_disk_into_a_batch_and_a_scene(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    ds = await client.datasets.create(name="disk", type="IMAGE")
    batch = await client.batches.add(ds.id, name="b")
    files = []
    for i in range(30):
        path = tmp_path / f"{i:02d}.jpg"
        path.write_bytes(_payload(i) * 5000)  # up to 280 KB: one read or two chunks
        files.append(path)
    uploader = client.uploader(concurrency=4)
    report = await uploader.upload(ds.id, files[:20], batch_id=batch.id)
    assert report.failed == []
    for path, result in zip(files, report.results, strict=False):
        assert result.name == path.name
        assert emu.read_object(result.path or "") == path.read_bytes()
    level = [item async for item in client.items.iter_by_id(ds.id, parent_id=batch.id)]
    assert sorted(i.name for i in level) == [p.name for p in files[:20]]

    scene = await client.scenes.add(ds.id, name="s")
    report = await uploader.upload(ds.id, [str(p) for p in files[20:]], scene_id=scene.id)
    assert report.failed == []
    level = [item async for item in client.items.iter_by_id(ds.id, parent_id=scene.id)]
    assert sorted(i.name for i in level) == [p.name for p in files[20:]]


async def test_file_over_one_gigabyte_is_refused_before_any_call(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    big = tmp_path / "huge.png"
    with big.open("wb") as f:
        f.truncate(MAX_PRESIGNED_SIZE + 1)  # sparse: no disk used

    report = await client.uploader().upload(1, [big])

    (result,) = report.results
    assert (result.name, result.size, result.ok, result.stage) == (
        "huge.png",
        MAX_PRESIGNED_SIZE + 1,
        False,
        "validate",
    )
    assert "1 GB" in (result.error or "")
    assert isinstance(result.exception, FileTooLargeError)
    assert result.exception.filename == "huge.png"
    assert result.exception.stage == "validate"
    assert emu.requests(KEY) == []
    with pytest.raises(UploadError, match=r"1 of 1 files failed; first: huge.png at validate"):
        report.raise_for_failures()
    # Exactly 1 GiB is still allowed (the one check the uploader and the pre-sign share).
    assert check_file_size("edge.png", MAX_PRESIGNED_SIZE) is None
    with pytest.raises(FileTooLargeError, match=r"edge\.png is 1073741825 bytes"):
        check_file_size("edge.png", MAX_PRESIGNED_SIZE + 1)


async def _never_read() -> AsyncIterator[bytes]:  # pragma: no cover - must never be opened
    raise AssertionError("read")
    yield b""


async def test_duplicate_names_and_unreadable_paths_fail_validation_alone(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    ds = await client.datasets.create(name="dups", type="IMAGE")
    sources: list[UploadSource | Path] = [
        UploadSource.from_bytes("a.png", b"first"),
        UploadSource.from_bytes("b.png", b"bee"),
        UploadSource.from_bytes("a.png", b"second"),
        tmp_path / "missing.png",
    ]
    report = await client.uploader().upload(ds.id, sources)
    a, b, dup, missing = report.results
    assert a.ok
    assert b.ok
    assert emu.read_object(a.path or "") == b"first"
    assert (dup.ok, dup.stage) == (False, "validate")
    assert "duplicate file name 'a.png'" in (dup.error or "")
    assert (missing.ok, missing.stage, missing.size) == (False, "validate", 0)
    assert "cannot read the file" in (missing.error or "")
    assert isinstance(missing.exception, InvalidSourceError)
    assert missing.exception.reason == "unreadable"
    assert isinstance(missing.exception.__cause__, FileNotFoundError)
    assert sorted(i.name for i in emu.state.datasets[ds.id].items.values()) == ["a.png", "b.png"]
    assert [r.name for r in report.failed] == ["a.png", str(tmp_path / "missing.png")]


async def test_no_authorization_header_reaches_the_store(emu: Emulator) -> None:
    sent: list[tuple[str, str, dict[str, str]]] = []

    async def on_headers(session: object, ctx: SimpleNamespace, params: object) -> None:
        p = params  # aiohttp.TraceRequestHeadersSentParams
        sent.append((p.method, str(p.url), dict(p.headers)))  # type: ignore[attr-defined]

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_headers)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        AsyncBasicAI(KEY, base_url=emu.base_url, session=session) as client,
    ):
        ds = await client.datasets.create(name="auth", type="IMAGE")
        sources = [UploadSource.from_bytes(f"{i}.png", b"x" * (300_000 + i)) for i in range(20)]
        report = await client.uploader().upload(ds.id, sources)
    assert report.failed == []
    puts = [(url, headers) for method, url, headers in sent if method == "PUT"]
    assert len(puts) == 20
    for url, headers in puts:
        assert "/_store/" in url
        lowered = {k.lower(): v for k, v in headers.items()}
        assert "authorization" not in lowered
        assert "transfer-encoding" not in lowered  # S3 refuses chunked bodies
        assert lowered["content-type"] == "image/png"
        size = int(url.split("Size=")[1].split("&")[0])
        assert lowered["content-length"] == str(size)
    api = [headers for method, url, headers in sent if "/api/v1/" in url]
    assert api
    assert all(h["Authorization"] == f"ApiKey {KEY}" for h in api)


async def test_a_file_that_fails_every_time_leaves_the_others_alone(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    ds = await client.datasets.create(name="one-bad", type="IMAGE")

    async def broken() -> AsyncIterator[bytes]:
        yield b"half"
        raise OSError("disk read error")

    gone = tmp_path / "gone.png"
    gone.write_bytes(b"soon gone")
    gone_source = UploadSource.from_path(gone)
    gone.unlink()
    sources = [UploadSource.from_bytes(f"ok-{i:03d}.png", _payload(i)) for i in range(250)]
    sources.insert(17, UploadSource.from_stream("broken.png", 8, broken))
    sources.insert(120, UploadSource.from_bytes("notes.txt", b"not an image"))  # refused at registration
    sources.insert(200, gone_source)
    progress = Recorder()

    report = await client.uploader(on_event=progress).upload(ds.id, sources)

    failed = {r.name: r for r in report.failed}
    assert set(failed) == {"broken.png", "notes.txt", "gone.png"}
    assert failed["broken.png"].stage == "put"
    assert failed["broken.png"].error == "cannot read broken.png: OSError: disk read error"
    assert isinstance(failed["broken.png"].exception, UploadError)
    assert isinstance(failed["broken.png"].exception.__cause__, OSError)
    assert failed["gone.png"].stage == "put"
    assert "FileNotFoundError" in (failed["gone.png"].error or "")
    assert failed["notes.txt"].stage == "register"
    # Typed by meaning whichever name the server gave it (or the platform's FILE_TYPE_NOT_SUPPORT).
    assert isinstance(failed["notes.txt"].exception, FileFormatNotSupportedError)
    assert len(report.succeeded) == 250
    names = sorted(i.name for i in emu.state.datasets[ds.id].items.values())
    assert names == sorted(f"ok-{i:03d}.png" for i in range(250))
    # Bytes of the unreadable files were given back; the refused text file was sent.
    assert progress.bytes == report.bytes_uploaded + len(b"not an image")
    assert len(progress.done) == 253
    assert sum(not r.ok for r in progress.done) == 3


async def test_report_and_arguments() -> None:
    ok = UploadResult("a", 3, ok=True, data_id=1)
    bad = UploadResult("b", 4, stage="put", error="boom")
    report = UploadReport([ok, bad])
    assert report.succeeded == [ok]
    assert report.failed == [bad]
    assert report.bytes_uploaded == 3
    with pytest.raises(UploadError) as info:
        report.raise_for_failures()
    assert (info.value.filename, info.value.stage) == ("b", "put")
    UploadReport([ok]).raise_for_failures()
    async with AsyncBasicAI("k", base_url="http://127.0.0.1:9/api/v1") as client:
        with pytest.raises(ValueError, match="concurrency"):
            Uploader(client, concurrency=0)
        with pytest.raises(ValueError, match="put_retries"):
            Uploader(client, put_retries=-1)


@pytest.mark.parametrize(
    ("name", "size"), [("", 1), ("  ", 1), ("a.png", -1), ("a.png", True), ("a.png", 1.5)]
)
def test_upload_source_checks_its_fields(name: str, size: object) -> None:
    with pytest.raises(ValueError, match="UploadSource"):
        UploadSource(name, size, _never_read)  # type: ignore[arg-type]


async def test_upload_sources_stream_their_bytes_again_on_each_open(tmp_path: Path) -> None:
    data = bytes(range(256)) * 3000  # 768000 bytes: several chunks
    path = tmp_path / "cloud.PCD"
    path.write_bytes(data)
    from_path = UploadSource.from_path(path, name="renamed.pcd", device_name="lidar")
    assert (from_path.name, from_path.size, from_path.device_name) == ("renamed.pcd", len(data), "lidar")
    assert from_path.mime_type == "application/octet-stream"
    from_bytes = UploadSource.from_bytes("x.jpg", data)
    assert from_bytes.mime_type == "image/jpeg"
    for source in (from_path, from_bytes):
        for _ in range(2):
            chunks = [chunk async for chunk in source.open()]
            assert len(chunks) > 1
            assert b"".join(chunks) == data

    small = tmp_path / "small.png"
    small.write_bytes(data[:1000])
    assert [chunk async for chunk in UploadSource.from_path(small).open()] == [data[:1000]]

    async def gen() -> AsyncIterator[bytes]:
        yield b"ab"

    assert UploadSource.from_stream("s.json", 2, gen).mime_type == "application/json"
    assert UploadSource.from_stream("s.json", 2, gen, mime_type="text/x").mime_type == "text/x"
    assert guess_mime_type("no-extension") == "application/octet-stream"
    assert guess_mime_type("A.PNG") == "image/png"
