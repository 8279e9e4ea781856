"""Every documented error the emulator can produce, raised by the SDK as its own class; key hygiene."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
import test_integration_support as support
from test_integration_support import KEY, KEY_B, capture, loose_limiter, upload

from basicai_async import (
    APIResponseError,
    AsyncBasicAI,
    AuthenticationError,
    BasicAIError,
    FileFormatNotSupportedError,
    IllegalFormatError,
    IllegalParamError,
    MethodNotAllowedError,
    NameDuplicatedError,
    NotFoundError,
    OperationFailedError,
    PermissionDeniedError,
    ResourceNotFoundError,
)
from basicai_async.emulator import Emulator
from basicai_async.models import FileRef, NewData

pytestmark = pytest.mark.integration

emu, client = support.emu, support.client


# The code each dialect writes for one meaning: the guide's names, and BasicAI's platform's
# (its UsecaseCode, as its own classes write them); the SDK raises the same class for both.
CODES = {
    "guide": {
        "name": "NAME_DUPLICATED",
        "dataset": "RESOURCE_NOT_FOUND",
        "data": "RESOURCE_NOT_FOUND",
        "param": "ILLEGAL_PARAM",
        "format": "ILLEGAL_FORMAT",
        "unsupported": "FILE_FORMAT_NOT_SUPPORTED",
        "file_url": "ILLEGAL_PARAM",
    },
    "xtreme1": {
        "name": "DATASET_NAME_DUPLICATED",
        "dataset": "DATASET_NOT_FOUND",
        "data": "DATA_NOT_FOUND",
        "param": "PARAM_ERROR",
        "format": "DATASET_DATA_FILE_FORMAT_ERROR",
        "unsupported": "FILE_TYPE_NOT_SUPPORT",
        "file_url": "DATASET_DATA_FILE_URL_ERROR",
    },
}


def _code(emulator: Emulator, meaning: str) -> str:
    return CODES[emulator.dialect][meaning]


def _calls(emulator: Emulator, key: str = KEY) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.path, r.status) for r in emulator.requests(key)]


async def test_name_duplicated(client: AsyncBasicAI, emu: Emulator) -> None:
    await client.datasets.create(name="same", type="IMAGE")
    with pytest.raises(NameDuplicatedError) as caught:
        await client.datasets.create(name="same", type="TEXT")
    assert caught.value.code == _code(emu, "name")
    assert (caught.value.method, caught.value.path) == ("POST", "/dataset/create")
    assert len(emu.state.datasets) == 1


async def test_resource_not_found(client: AsyncBasicAI, emu: Emulator) -> None:
    ds = await client.datasets.create(name="ds", type="IMAGE")
    with pytest.raises(ResourceNotFoundError) as caught:
        await client.datasets.get(ds.id + 1000)
    assert caught.value.code == _code(emu, "dataset")
    with pytest.raises(ResourceNotFoundError) as caught:
        await client.data.remove(ds.id, 424242)
    assert caught.value.code == _code(emu, "data")
    with pytest.raises(ResourceNotFoundError):
        await client.items.list(ds.id, parent_id=424242).__anext__()


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/dataset/list", {"pageSize": 0}),
        ("GET", "/dataset/list", {"pageSize": 101}),
        ("GET", "/dataset/listById", {"limit": 0}),
        ("GET", "/dataset/list", {"sortBy": "colour"}),
        ("GET", "/dataset/info", {"datasetIds": list(range(1, 102))}),
        ("POST", "/dataset/delete", {"datasetIds": list(range(1, 102))}),
        ("GET", "/dataset/info", {"datasetIds": "1,x"}),
    ],
)
async def test_illegal_param_through_the_escape_hatch(
    client: AsyncBasicAI, emu: Emulator, method: str, path: str, params: dict[str, object]
) -> None:
    with pytest.raises(IllegalParamError) as caught:
        await client.request(method, path, params=params)
    assert caught.value.code == _code(emu, "param")
    assert caught.value.server_message
    # A business error is an answer, not a failure: never retried.
    assert _calls(emu) == [(method, "/api/v1" + path, 200)]


async def test_illegal_format_for_malformed_json(client: AsyncBasicAI, emu: Emulator) -> None:
    # msgspec.Raw goes on the wire verbatim: the one way to send broken JSON through the SDK.
    with pytest.raises(IllegalFormatError) as caught:
        await client.request("POST", "/dataset/create", json=msgspec.Raw(b'{"name": "x", "type": '))
    assert caught.value.code == _code(emu, "format")
    assert emu.state.datasets == {}


async def test_operation_failed_on_removing_a_non_empty_batch(client: AsyncBasicAI) -> None:
    ds = await client.datasets.create(name="ds", type="IMAGE")
    batch = await client.batches.add(ds.id, name="b")
    file = await upload(client)
    data = await client.data.add(ds.id, name="d", files=[file], batch_id=batch.id)
    with pytest.raises(OperationFailedError) as caught:
        await client.batches.remove(ds.id, batch.id)
    assert caught.value.code == "OPERATION_FAILED"
    await client.data.remove(ds.id, data.id)
    await client.batches.remove(ds.id, batch.id)


async def test_file_format_not_supported(client: AsyncBasicAI, emu: Emulator) -> None:
    ds = await client.datasets.create(name="images", type="IMAGE")
    cloud = await upload(client, "scan.pcd", b"points")
    with pytest.raises(FileFormatNotSupportedError) as caught:
        await client.data.add(ds.id, name="scan", files=[cloud])
    assert caught.value.code == _code(emu, "unsupported")
    with pytest.raises(FileFormatNotSupportedError):
        await client.data.add_many(ds.id, [NewData(name="scan", files=[cloud])])
    assert (await client.datasets.get(ds.id)).item_count == 0


async def test_registering_a_file_never_uploaded_is_illegal_param(
    client: AsyncBasicAI, emu: Emulator
) -> None:
    ds = await client.datasets.create(name="images", type="IMAGE")
    ghost = FileRef(path="http://127.0.0.1:1/_store/none/a.jpg", size=3, mime_type="image/jpeg")
    with pytest.raises(IllegalParamError) as caught:
        await client.data.add(ds.id, name="ghost", files=[ghost])
    assert caught.value.code == _code(emu, "file_url")


@pytest.mark.parametrize("problem", ["unknown", "expired", "revoked"])
async def test_bad_keys_are_authentication_errors(emu: Emulator, problem: str) -> None:
    key = f"sk-{problem}"
    if problem == "expired":
        emu.add_key(key, team="team-a", expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    elif problem == "revoked":
        emu.add_key(key, team="team-a")
    async with AsyncBasicAI(key, base_url=emu.base_url, limiter=loose_limiter()) as sdk:
        if problem == "revoked":
            await sdk.datasets.create(name="before", type="IMAGE")
            emu.revoke_key(key)
        with pytest.raises(AuthenticationError) as caught:
            await sdk.datasets.create(name="after", type="IMAGE")
    assert caught.value.status == 401
    assert key not in str(caught.value)
    assert _calls(emu, key)[-1] == ("POST", "/api/v1/dataset/create", 401)
    assert [d.name for d in emu.state.datasets.values()] == (["before"] if problem == "revoked" else [])


async def test_another_teams_dataset_is_permission_denied(client: AsyncBasicAI, emu: Emulator) -> None:
    ds = await client.datasets.create(name="mine", type="IMAGE")
    async with AsyncBasicAI(KEY_B, base_url=emu.base_url, limiter=loose_limiter()) as other:
        for call in (
            lambda: other.datasets.get(ds.id),
            lambda: other.datasets.delete(ds.id),
            lambda: other.annotations.list_sources(ds.id),
        ):
            with pytest.raises(PermissionDeniedError) as caught:
                await call()
            assert caught.value.status == 403
        # Its own listing does not show the other team's dataset.
        assert [d async for d in other.datasets.list()] == []
    assert (await client.datasets.get(ds.id)).name == "mine"


async def test_wrong_method_is_method_not_allowed(client: AsyncBasicAI, emu: Emulator) -> None:
    with pytest.raises(MethodNotAllowedError) as caught:
        await client.request("GET", "/dataset/create")
    assert caught.value.status == 405
    with pytest.raises(MethodNotAllowedError):
        await client.request("POST", "/dataset/info/1")
    with pytest.raises(NotFoundError):
        await client.request("GET", "/dataset/noSuchThing")
    assert [status for _, _, status in _calls(emu)] == [405, 405, 404]


async def test_the_key_never_reaches_a_log_line_an_error_or_storage(caplog: pytest.LogCaptureFixture) -> None:
    emulator = Emulator({KEY: "team-a", KEY_B: "team-b"}, limits=None)
    seen = capture(emulator)
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    async with emulator, AsyncBasicAI(KEY, base_url=emulator.base_url, limiter=loose_limiter()) as sdk:
        ds = await sdk.datasets.create(name="ds", type="IMAGE")
        file = await upload(sdk)
        await sdk.data.add(ds.id, name="d", files=[file])
        failing: list[Callable[[], Awaitable[Any]]] = [
            lambda: sdk.datasets.create(name="ds", type="IMAGE"),
            lambda: sdk.datasets.get(10**6),
            lambda: sdk.request("GET", "/dataset/create"),
            lambda: sdk.request("GET", "/dataset/list", params={"pageSize": 0}),
        ]
        for call in failing:
            with pytest.raises(BasicAIError) as caught:
                await call()
            errors.append(caught.value)
        emulator.revoke_key(KEY)
        with pytest.raises(AuthenticationError) as denied:
            await sdk.datasets.get(ds.id)
        errors.append(denied.value)

    ours = [r for r in caplog.records if r.name.startswith("basicai_async")]
    assert len(ours) >= 8  # one DEBUG line per API call: the check below looked at something
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in (record.exc_text or "")
    assert KEY not in caplog.text
    for error in errors:
        assert KEY not in str(error)
        assert KEY not in repr(error)
        if isinstance(error, APIResponseError):
            assert KEY not in error.server_message
    store = [c for c in seen if not c.path.startswith("/api/v1/")]
    assert store  # the upload's PUT
    for request in store:
        assert KEY not in request.url
        assert all(KEY not in value for value in request.headers.values())
