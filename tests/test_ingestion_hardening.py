"""Issue 10's defects, one test each (or more): nothing lost, nothing twice, no crash, no leak.

Every test here fails on the uploader before the wiring of issue 10 (the number
in each docstring is the defect's number in the issue).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from test_integration_support import LimitedFaults

from basicai_async import AsyncBasicAI, ConfigurationError, Limits, RetryPolicy, UploadSource, Window
from basicai_async._errors import (
    FileFormatNotSupportedError,
    ManifestMismatchError,
    OperationFailedError,
    ResourceNotFoundError,
    SourceChangedError,
)
from basicai_async._manifest import Manifest, ManifestEntry
from basicai_async._redact import redact_url
from basicai_async.emulator import Emulator, FaultRule
from basicai_async.models import DataItem, NewData
from basicai_async.resources import Data

pytestmark = pytest.mark.integration

KEY = "hardening-key"
OTHER_KEY = "hardening-other-team"
ADD = "dataset/batchAddData"
PRESIGN = "storage/batchGeneratePreSignedUploadUrl"
FAST = RetryPolicy(backoff_start=0.001, backoff_cap=0.004)
LIMITS = Limits((Window(1_000_000, 1.0),))


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator({KEY: "team", OTHER_KEY: "other"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsyncBasicAI]:
    async with AsyncBasicAI(KEY, base_url=emu.base_url, limits=LIMITS, retry=FAST) as c:
        yield c


def _sources(count: int, prefix: str = "f") -> list[UploadSource]:
    return [UploadSource.from_bytes(f"{prefix}-{i:04d}.png", b"png %d" % i * 8) for i in range(count)]


def _names(emu: Emulator, dataset_id: int) -> Counter[str]:
    return Counter(i.name for i in emu.state.datasets[dataset_id].items.values() if i.kind == "DATA")


def _calls(emu: Emulator, fragment: str, key: str = KEY) -> int:
    return sum(fragment in r.path for r in emu.requests(key))


# 1. A manifest is bound to its target.


async def test_a_manifest_of_another_dataset_is_refused_before_any_request(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    """#1: reusing a manifest for another dataset raised nothing and reported every file ok."""
    first = await client.datasets.create(name="first", type="IMAGE")
    second = await client.datasets.create(name="second", type="IMAGE")
    manifest = tmp_path / "upload.jsonl"
    report = await client.uploader().upload(first.id, _sources(5), manifest=manifest)
    assert len(report.succeeded) == 5
    before = len(emu.requests(KEY))

    with pytest.raises(ManifestMismatchError) as caught:
        await client.uploader().upload(second.id, _sources(5), manifest=manifest)

    assert f"--dataset {first.id}" in str(caught.value)
    assert len(emu.requests(KEY)) == before
    assert _names(emu, second.id) == Counter()


async def test_a_manifest_from_before_binding_is_looked_up_not_trusted(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    """#1: an unbound manifest's "registered" records (of another dataset) no longer count as done."""
    ds = await client.datasets.create(name="adopted", type="IMAGE")
    sources = _sources(4)
    path = tmp_path / "old.jsonl"
    with Manifest(path) as old:
        for i, s in enumerate(sources):
            old.record(ManifestEntry(name=s.name, size=s.size, status="registered", data_id=9000 + i))

    report = await client.uploader().upload(ds.id, sources, manifest=path)

    assert [r.ok and not r.resumed for r in report.results] == [True] * 4
    assert {r.data_id for r in report.results}.isdisjoint(range(9000, 9004))
    assert _names(emu, ds.id) == Counter(s.name for s in sources)


# 2. Pre-sign is retried.


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(error_rate=1.0, error_statuses=(500,)),
        FaultRule(error_rate=1.0, error_statuses=(502,)),
        FaultRule(error_rate=1.0, error_statuses=(504,)),
        FaultRule(drop_after_rate=1.0),
        FaultRule(truncate_rate=1.0),
    ],
    ids=["500", "502", "504", "dropped", "truncated"],
)
async def test_a_transient_presign_failure_is_retried_not_fatal_to_the_batch(rule: FaultRule) -> None:
    """#2: one 500/502/504, drop or truncated answer of pre-sign failed a whole batch of 100."""
    faults = LimitedFaults(rule, endpoint=PRESIGN)
    async with (
        Emulator({KEY: "team"}, limits=None, faults=faults) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=LIMITS, retry=FAST) as client,
    ):
        ds = await client.datasets.create(name="presign", type="IMAGE")
        report = await client.uploader().upload(ds.id, _sources(100))
        assert report.failed == []
        assert faults.remaining == 0  # the fault was injected, and retried past
        assert _calls(emu, PRESIGN) == 2
        assert _names(emu, ds.id) == Counter(s.name for s in _sources(100))


# 3. One bad input fails alone; arguments fail before any request.


async def test_bad_sources_fail_alone_and_their_neighbours_are_uploaded(
    emu: Emulator, client: AsyncBasicAI, tmp_path: Path
) -> None:
    """#3: a 0-byte file escaped as an ExceptionGroup; a non-UTF-8 name as UnicodeEncodeError;
    a directory passed validation and failed at PUT."""
    ds = await client.datasets.create(name="mixed", type="IMAGE")
    good = tmp_path / "good.png"
    good.write_bytes(b"good")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    bad_name = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.png"))
    bad_name.write_bytes(b"latin-1 name")
    folder = tmp_path / "folder.png"
    folder.mkdir()
    sources: list[UploadSource | Path] = [
        good,
        empty,
        bad_name,
        folder,
        UploadSource.from_bytes("empty-bytes.png", b""),
        *_sources(3),
    ]

    report = await client.uploader().upload(ds.id, sources)

    stages = [(r.ok, r.stage) for r in report.results]
    assert stages == [(True, None), *[(False, "validate")] * 4, *[(True, None)] * 3]
    reasons = [getattr(r.exception, "reason", None) for r in report.results[1:5]]
    assert reasons == ["empty", "name_not_utf8", "not_a_file", "empty"]
    assert "\\xe9" in (report.results[2].error or "")
    assert _names(emu, ds.id) == Counter(["good.png", *(s.name for s in _sources(3))])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"dataset_id": 0}, ValueError),
        ({"dataset_id": -5}, ValueError),
        ({"dataset_id": "7"}, TypeError),
        ({"dataset_id": 1, "batch_id": 0}, ValueError),
        ({"dataset_id": 1, "scene_id": "3"}, TypeError),
    ],
)
async def test_bad_ids_fail_before_the_first_request(
    emu: Emulator, client: AsyncBasicAI, kwargs: dict[str, object], error: type[Exception]
) -> None:
    """#3: a dataset id of 0, -5 or "7" was checked only after ~100 PUTs."""
    with pytest.raises(error):
        await client.uploader().upload(sources=_sources(150), **kwargs)  # type: ignore[arg-type]
    assert emu.requests(KEY) == []


# 4. A file that changes size during the upload.


def _changing(name: str, declared: int, actual: int) -> UploadSource:
    async def read() -> AsyncIterator[bytes]:
        yield b"x" * actual

    return UploadSource.from_stream(name, declared, read)


@pytest.mark.parametrize(("actual", "how"), [(3000, "grew"), (500, "shrank")])
async def test_a_file_that_changes_size_fails_alone_at_once_with_the_cause(
    emu: Emulator, client: AsyncBasicAI, actual: int, how: str
) -> None:
    """#4: a growing file was stored truncated and reported ok; a shrinking one waited out the read
    timeout on every attempt and reported a socket timeout."""
    ds = await client.datasets.create(name="changing", type="IMAGE")
    sources = [_changing("moving.png", 1000, actual), *_sources(2)]
    started = time.monotonic()
    report = await client.uploader(put_retries=3).upload(ds.id, sources)
    assert time.monotonic() - started < 5  # no socket timeout waited out (the default is 120 s)

    moving = report.results[0]
    assert (moving.ok, moving.stage) == (False, "put")
    assert how in (moving.error or "")
    assert isinstance(moving.exception, Exception)
    assert isinstance(moving.exception.__cause__, SourceChangedError)
    assert [r.ok for r in report.results[1:]] == [True, True]
    assert "moving.png" not in _names(emu, ds.id)


# 6. Exactly once by reconciliation, with or without a manifest.


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule(drop_after_rate=1.0),
        FaultRule(truncate_rate=1.0),
        FaultRule(error_rate=1.0, error_statuses=(500,)),
        FaultRule(error_rate=1.0, error_statuses=(504,)),
    ],
    ids=["dropped-after", "truncated", "500", "504"],
)
async def test_an_ambiguous_registration_is_reconciled_without_a_manifest(rule: FaultRule) -> None:
    """#6: after an ambiguous batchAddData failure without a manifest, files that were registered
    were reported failed, and retrying report.failed made duplicates."""
    faults = LimitedFaults(rule, endpoint=ADD, times=2)
    async with (
        Emulator({KEY: "team"}, limits=None, faults=faults) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=LIMITS, retry=FAST) as client,
    ):
        ds = await client.datasets.create(name="reconciled", type="IMAGE")
        sources = _sources(300)
        report = await client.uploader().upload(ds.id, sources)

        assert report.failed == []
        assert report.maybe_registered == []
        assert _names(emu, ds.id) == Counter(s.name for s in sources)
        # Retrying what failed (nothing) adds nothing: no duplicates for a user who does.
        retry = await client.uploader().upload(ds.id, [s for s in sources if s.name in report.failed])
        assert retry.results == []
        assert _names(emu, ds.id) == Counter(s.name for s in sources)


async def test_the_look_up_waits_one_backoff_step_also_without_put_retries() -> None:
    """The uploader's policy is the client's with ``put_retries``: 0 of them must not skip the wait."""
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    policy = RetryPolicy(backoff_start=0.25, sleep=record, random=lambda: 0.0)
    faults = LimitedFaults(FaultRule(error_rate=1.0, error_statuses=(502,)), endpoint=ADD, times=1)
    async with (
        Emulator({KEY: "team"}, limits=None, faults=faults) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=LIMITS, retry=policy) as client,
    ):
        ds = await client.datasets.create(name="waits", type="IMAGE")
        report = await client.uploader(put_retries=0).upload(ds.id, _sources(5))
        assert report.failed == []
        assert faults.remaining == 0
        assert slept == [0.25]


async def test_names_the_server_strips_are_matched_when_reconciling(tmp_path: Path) -> None:
    """#6: after a truncated answer, names the server normalises (leading spaces) were registered twice."""
    faults = LimitedFaults(FaultRule(truncate_rate=1.0), endpoint=ADD)
    async with (
        Emulator({KEY: "team"}, limits=None, faults=faults) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=LIMITS, retry=FAST) as client,
    ):
        ds = await client.datasets.create(name="spaces", type="IMAGE")
        sources = [UploadSource.from_bytes(f"  lead-{i}.png", b"img %d" % i) for i in range(20)]
        report = await client.uploader().upload(ds.id, sources, manifest=tmp_path / "m.jsonl")
        assert [r.ok for r in report.results] == [True] * 20
        rerun = await client.uploader().upload(ds.id, sources, manifest=tmp_path / "m.jsonl")
        assert all(r.resumed for r in rerun.results)
        assert _names(emu, ds.id) == Counter(f"lead-{i}.png" for i in range(20))
        assert _calls(emu, ADD) == 1


# 7. A refusal of the whole target stops the run.


async def test_a_dataset_that_does_not_exist_stops_the_run_at_once(
    emu: Emulator, client: AsyncBasicAI
) -> None:
    """#7: 1,000 files into a missing dataset made 1,000 PUTs and 1,990 batchAddData calls."""
    report = await client.uploader(concurrency=16).upload(999, _sources(1000))

    assert report.succeeded == []
    assert len(report.failed) == 1000
    assert {r.stage for r in report.results} <= {"register", "aborted"}
    assert all("999" in (r.error or "") for r in report.results)
    # Typed by meaning whichever name the dialect gives it: the guide's, or the platform's.
    assert all(isinstance(r.exception, ResourceNotFoundError) for r in report.results)
    assert {getattr(r.exception, "code", None) for r in report.results} == {
        "RESOURCE_NOT_FOUND" if emu.dialect == "guide" else "DATASET_NOT_FOUND"
    }
    assert _calls(emu, ADD) <= 2  # at most the batches already in flight
    # Only the batches in flight were PUT; the rest never left the machine.
    assert sum(1 for r in report.results if r.stage == "aborted") >= 800


async def test_another_teams_dataset_stops_the_run_at_once(emu: Emulator, client: AsyncBasicAI) -> None:
    """#7: a 403 on the dataset is not a bad file: no halving."""
    async with AsyncBasicAI(OTHER_KEY, base_url=emu.base_url, limits=LIMITS) as other:
        theirs = await other.datasets.create(name="theirs", type="IMAGE")
    report = await client.uploader().upload(theirs.id, _sources(1000))
    assert report.succeeded == []
    assert _calls(emu, ADD) <= 2
    assert all("403" in (r.error or "") for r in report.results)
    assert sum(1 for r in report.results if r.stage == "aborted") >= 800


async def test_a_refused_file_still_fails_alone_by_halving(emu: Emulator, client: AsyncBasicAI) -> None:
    """Per-file refusals keep the halving: one unsupported file does not take its batch down."""
    ds = await client.datasets.create(name="halving", type="IMAGE")
    sources = [*_sources(7), UploadSource.from_bytes("cloud.pcd", b"not an image")]
    report = await client.uploader().upload(ds.id, sources)
    assert [r.name for r in report.failed] == ["cloud.pcd"]
    assert len(report.succeeded) == 7
    [refused] = report.failed
    assert isinstance(refused.exception, FileFormatNotSupportedError)
    assert refused.exception.code == (
        "FILE_FORMAT_NOT_SUPPORTED" if emu.dialect == "guide" else "FILE_TYPE_NOT_SUPPORT"
    )


# 8. A client used from a second event loop.


def test_a_client_used_from_a_second_event_loop_says_so() -> None:
    """#8: asyncio.run twice with one client raised aiohttp's bare RuntimeError."""
    # No server needed: the session is opened, never used for a request.
    client = AsyncBasicAI(KEY, base_url="http://127.0.0.1:9/api/v1", limits=LIMITS)
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(client.http_session())
        with pytest.raises(ConfigurationError, match="another event loop"):
            asyncio.run(client.datasets.get(1))
    finally:
        first.run_until_complete(client.close())
        first.close()


async def test_a_refused_key_at_presign_stops_the_run(emu: Emulator) -> None:
    """#7: a 401 names no file: the batches not started yet are not pre-signed at all."""
    async with AsyncBasicAI("not-a-key", base_url=emu.base_url, limits=LIMITS, retry=FAST) as client:
        report = await client.uploader().upload(1, _sources(300))
    assert {r.stage for r in report.results} == {"presign", "aborted"}
    assert sum(1 for r in report.results if r.stage == "aborted") >= 100
    assert all("401" in (r.error or "") for r in report.results)


async def test_another_refusal_fails_its_batch_without_halving(
    emu: Emulator, client: AsyncBasicAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither a bad file nor a bad target: the batch fails once, no halving, no abort."""
    ds = await client.datasets.create(name="refused", type="IMAGE")
    calls: list[int] = []

    async def refuse(self: Data, dataset_id: int, items: Sequence[NewData]) -> list[DataItem]:
        calls.append(len(items))
        raise OperationFailedError(
            "busy", method="POST", path="/dataset/batchAddData", code="OPERATION_FAILED"
        )

    monkeypatch.setattr(Data, "add_many", refuse)
    report = await client.uploader().upload(ds.id, _sources(150))
    assert sorted(calls) == [50, 100]
    assert {(r.stage, r.maybe_registered) for r in report.results} == {("register", False)}


async def test_a_registration_that_keeps_failing_and_is_never_found_fails_certainly() -> None:
    """Looked up after each ambiguous failure and never found: certainly not registered, after three calls."""
    faults = LimitedFaults(FaultRule(error_rate=1.0, error_statuses=(502,)), endpoint=ADD, times=100)
    async with (
        Emulator({KEY: "team"}, limits=None, faults=faults) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=LIMITS, retry=FAST) as client,
    ):
        ds = await client.datasets.create(name="never", type="IMAGE")
        report = await client.uploader().upload(ds.id, _sources(10))
        assert len(report.failed) == 10
        assert report.maybe_registered == []
        assert _calls(emu, ADD) == 3
        assert _names(emu, ds.id) == Counter()


async def test_a_source_of_the_wrong_type_fails_alone(emu: Emulator, client: AsyncBasicAI) -> None:
    ds = await client.datasets.create(name="typed", type="IMAGE")
    report = await client.uploader().upload(ds.id, [42, *_sources(1)])  # type: ignore[list-item]
    assert [(r.ok, r.stage) for r in report.results] == [(False, "validate"), (True, None)]
    assert "is not a path or an UploadSource" in (report.results[0].error or "")


async def test_reconciling_never_takes_an_earlier_file_of_the_same_name() -> None:
    """The look-up matches the object path too: a file of the same name uploaded before is not this one."""
    faults = LimitedFaults(FaultRule(drop_after_rate=1.0), endpoint=ADD)
    async with (
        Emulator({KEY: "team"}, limits=None, faults=faults) as emu,
        AsyncBasicAI(KEY, base_url=emu.base_url, limits=LIMITS, retry=FAST) as client,
    ):
        ds = await client.datasets.create(name="same-name", type="IMAGE")
        await client.batches.add(ds.id, name="a batch at the top level")
        faults.clear()
        (earlier,) = (
            await client.uploader().upload(ds.id, [UploadSource.from_bytes("a.png", b"v1")])
        ).results
        faults.set(FaultRule(drop_after_rate=1.0), endpoint=ADD)
        faults.remaining = 1
        (again,) = (await client.uploader().upload(ds.id, [UploadSource.from_bytes("a.png", b"v2")])).results
        assert again.ok
        assert again.data_id != earlier.data_id
        # Registered under the exact path storage named; the result shows it with any signature redacted.
        registered = emu.state.datasets[ds.id].items[again.data_id or 0].files[0].path
        assert redact_url(registered) == again.path
        assert _names(emu, ds.id) == Counter({"a.png": 2})
