"""Uploads through a misbehaving store: 5xx, dropped connections, expired and refused URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timezone

import msgspec
import pytest

from basicai_async import AsyncBasicAI, Limits, RetryPolicy, UploadSource, Window
from basicai_async._errors import IllegalParamError, UploadError
from basicai_async.emulator import Emulator
from basicai_async.emulator._faults import STORE_ENDPOINT, FaultRule
from basicai_async.models import DataItem, NewData, PresignedUpload, PresignRequest
from basicai_async.resources import Data, Storage
from basicai_async.uploader import Uploader

pytestmark = pytest.mark.integration

KEY = "upload-faults-key"
PRESIGN = "/api/v1/storage/batchGeneratePreSignedUploadUrl"
# The documented backoff starts at 0.5 s; the tests keep the policy but not the wait.
FAST = RetryPolicy(backoff_start=0.002, backoff_cap=0.01)


# Renewals cost one call per file; without limits they do not queue behind BasicAI's 100/s.
NO_LIMITS = Limits((Window(1_000_000, 1.0),))


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(keys={KEY: "team"}, limits=None) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsyncBasicAI]:
    async with AsyncBasicAI(KEY, base_url=emu.base_url, limits=NO_LIMITS, retry=FAST) as c:
        yield c


def _wrap_presign(
    monkeypatch: pytest.MonkeyPatch,
    around: Callable[[Sequence[PresignRequest], list[PresignedUpload]], Awaitable[list[PresignedUpload]]],
) -> None:
    """Every pre-sign call goes to the API, then through ``around(requests, answer)``."""
    real = Storage.presign_uploads

    async def presign(self: Storage, files: Sequence[PresignRequest]) -> list[PresignedUpload]:
        return await around(files, await real(self, files))

    monkeypatch.setattr(Storage, "presign_uploads", presign)


def _sources(count: int, size: int = 1000) -> dict[str, bytes]:
    return {f"f-{i:04d}.png": i.to_bytes(4, "big") * (size // 4) for i in range(count)}


def _assert_all_landed(emu: Emulator, dataset_id: int, payloads: dict[str, bytes], results: Sequence) -> None:
    assert [r.name for r in results] == list(payloads)
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    for r in results:
        assert emu.read_object(r.path) == payloads[r.name]
    names = sorted(i.name for i in emu.state.datasets[dataset_id].items.values())
    assert names == sorted(payloads)


async def test_injected_5xx_and_dropped_connections_on_put_are_retried(
    emu: Emulator, client: AsyncBasicAI
) -> None:
    ds = await client.datasets.create(name="flaky", type="IMAGE")
    payloads = _sources(300, size=40_000)
    emu.faults.reseed(7)
    emu.faults.set(
        FaultRule(error_rate=0.15, drop_before_rate=0.1, drop_after_rate=0.05), endpoint=STORE_ENDPOINT
    )
    uploader = client.uploader(concurrency=16, put_retries=8)

    report = await uploader.upload(ds.id, [UploadSource.from_bytes(n, d) for n, d in payloads.items()])

    injected = emu.faults.injected
    assert injected[STORE_ENDPOINT, "error"] > 10
    assert injected[STORE_ENDPOINT, "drop_before"] > 5
    assert injected[STORE_ENDPOINT, "drop_after"] > 0
    _assert_all_landed(emu, ds.id, payloads, report.results)
    # The API itself was not retried or disturbed: one pre-sign and one register per 100.
    paths = [r.path for r in emu.requests(KEY)]
    assert paths.count(PRESIGN) == 3


async def test_persistent_put_failure_is_reported_and_nothing_registered(
    emu: Emulator, client: AsyncBasicAI
) -> None:
    ds = await client.datasets.create(name="down", type="IMAGE")
    emu.faults.set(FaultRule(error_rate=1.0, error_statuses=(503,)), endpoint=STORE_ENDPOINT)
    uploader = client.uploader(put_retries=2)

    report = await uploader.upload(ds.id, [UploadSource.from_bytes(n, d) for n, d in _sources(30).items()])

    assert report.succeeded == []
    for r in report.results:
        assert (r.ok, r.stage, r.data_id) == (False, "put", None)
        assert (r.error or "").startswith("storage answered HTTP 503: <?xml")
        assert "SlowDown" in (r.error or "")
        assert isinstance(r.exception, UploadError)
        assert r.exception.stage == "put"
    assert emu.faults.injected[STORE_ENDPOINT, "error"] == 30 * 3  # first try + 2 retries each
    assert emu.state.datasets[ds.id].items == {}
    assert not any("batchAddData" in r.path for r in emu.requests(KEY))


async def test_a_4xx_from_the_store_is_not_retried(
    emu: Emulator, client: AsyncBasicAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = await client.datasets.create(name="mismatch", type="IMAGE")
    real = Storage.presign_uploads

    async def signed_for_more_bytes(self: Storage, files: Sequence[PresignRequest]) -> list[PresignedUpload]:
        # A URL signed for 7 bytes, PUT 5: storage refuses the body.
        return await real(self, [PresignRequest(filename=f.filename, size=f.size + 2) for f in files])

    monkeypatch.setattr(Storage, "presign_uploads", signed_for_more_bytes)
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async with AsyncBasicAI(KEY, base_url=emu.base_url, retry=RetryPolicy(sleep=record)) as recorded:
        report = await recorded.uploader().upload(ds.id, [UploadSource.from_bytes("short.png", b"12345")])

    (result,) = report.results
    assert result.stage == "put"
    assert "storage answered HTTP 400" in (result.error or "")
    assert "EntityTooSmall" in (result.error or "")
    assert sleeps == []
    assert emu.state.datasets[ds.id].items == {}


async def test_urls_that_expired_before_use_are_pre_signed_again(
    emu: Emulator, client: AsyncBasicAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = await client.datasets.create(name="expired", type="IMAGE")
    payloads = _sources(250)
    calls: list[int] = []

    async def first_batch_expires(
        files: Sequence[PresignRequest], answer: list[PresignedUpload]
    ) -> list[PresignedUpload]:
        # The first batch's URLs are issued already expired (a long wait before their PUTs).
        calls.append(len(files))
        if len(calls) == 1:
            return [msgspec.structs.replace(u, expires_at=datetime.now(timezone.utc)) for u in answer]
        return answer

    _wrap_presign(monkeypatch, first_batch_expires)
    uploader = Uploader(client, concurrency=8, expiry_margin=0.0)

    report = await uploader.upload(ds.id, [UploadSource.from_bytes(n, d) for n, d in payloads.items()])

    _assert_all_landed(emu, ds.id, payloads, report.results)
    # Three batches, and the whole first one renewed in one call, before its first PUT.
    assert calls[0] == 100
    assert sorted(calls) == [50, 100, 100, 100]


async def test_urls_refused_with_403_are_pre_signed_again(
    emu: Emulator, client: AsyncBasicAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = await client.datasets.create(name="refused", type="IMAGE")
    payloads = _sources(120)
    calls: list[int] = []

    async def first_batch_refused(
        files: Sequence[PresignRequest], answer: list[PresignedUpload]
    ) -> list[PresignedUpload]:
        # The first answers carry a signature storage will refuse (clock skew, rotated key).
        calls.append(len(files))
        if len(calls) > 1:
            return answer
        return [
            msgspec.structs.replace(u, pre_signed_url=u.pre_signed_url.replace("Signature=", "Signature=0"))
            for u in answer
        ]

    _wrap_presign(monkeypatch, first_batch_refused)
    report = await Uploader(client, concurrency=8).upload(
        ds.id, [UploadSource.from_bytes(n, d) for n, d in payloads.items()]
    )

    _assert_all_landed(emu, ds.id, payloads, report.results)
    assert sorted(calls) == [1] * 100 + [20, 100]


async def test_urls_that_keep_expiring_fail_with_the_stores_answer(
    emu: Emulator, client: AsyncBasicAI
) -> None:
    ds = await client.datasets.create(name="always-expired", type="IMAGE")
    emu.store.ttl = 0.0
    report = await Uploader(client, expiry_margin=0.0).upload(
        ds.id, [UploadSource.from_bytes(n, d) for n, d in _sources(5).items()]
    )
    for r in report.results:
        assert r.stage == "put"
        assert "HTTP 403" in (r.error or "")
        assert "Request has expired" in (r.error or "")
    # One batch, then one renewal of all five together, no loop.
    assert [r.path for r in emu.requests(KEY)].count(PRESIGN) == 1 + 1


async def test_a_presign_failure_fails_its_batch_at_presign(emu: Emulator, client: AsyncBasicAI) -> None:
    ds = await client.datasets.create(name="no-presign", type="IMAGE")
    report = await client.uploader().upload(
        ds.id, [UploadSource.from_bytes("bad?name.png", b"x"), UploadSource.from_bytes("fine.png", b"y")]
    )
    # The server refuses the whole call for one bad name: both fail at presign, saying why.
    assert [r.stage for r in report.results] == ["presign", "presign"]
    # Typed by meaning whichever name the server gave it (ILLEGAL_PARAM, the platform's PARAM_ERROR).
    assert all(isinstance(r.exception, IllegalParamError) for r in report.results)
    assert "bad?name.png" in (report.results[0].error or "")
    assert emu.state.datasets[ds.id].items == {}


async def test_a_failed_renewal_is_reported_at_presign(
    emu: Emulator, client: AsyncBasicAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = await client.datasets.create(name="renewal-fails", type="IMAGE")
    payloads = _sources(3)
    calls: list[int] = []

    async def revoke_after_the_first(
        files: Sequence[PresignRequest], answer: list[PresignedUpload]
    ) -> list[PresignedUpload]:
        calls.append(len(files))
        emu.revoke_key(KEY)  # the key is revoked while the batch waits for its PUTs
        return answer

    _wrap_presign(monkeypatch, revoke_after_the_first)
    emu.store.ttl = 0.0  # the batch's URLs are already expired: each PUT renews its own first
    report = await Uploader(client, expiry_margin=0.0).upload(
        ds.id, [UploadSource.from_bytes(n, d) for n, d in payloads.items()]
    )

    # The first renewal's 401 refuses the key as a whole: the other files are not renewed.
    assert sorted(r.stage or "" for r in report.results) == ["aborted", "aborted", "presign"]
    assert calls == [3]
    assert [r.path for r in emu.requests(KEY)].count(PRESIGN) == 1 + 1
    assert all("401" in (r.error or "") for r in report.results)
    assert not emu.state.datasets[ds.id].items


async def test_a_register_answer_of_the_wrong_length_is_looked_up(
    emu: Emulator, client: AsyncBasicAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = await client.datasets.create(name="short-answer", type="IMAGE")
    real = Data.add_many

    async def one_short(self: Data, dataset_id: int, items: Sequence[NewData]) -> list[DataItem]:
        return (await real(self, dataset_id, items))[:-1]

    monkeypatch.setattr(Data, "add_many", one_short)
    sources = [UploadSource.from_bytes(n, d) for n, d in _sources(3).items()]
    report = await Uploader(client).upload(ds.id, sources)

    # Which file an answer belongs to is never guessed: the files are looked up by name and object.
    assert [r.ok for r in report.results] == [True] * 3
    items = emu.state.datasets[ds.id].items
    assert sorted(items[r.data_id or 0].name for r in report.results) == sorted(_sources(3))
    assert len(items) == 3  # looked up, not registered again
