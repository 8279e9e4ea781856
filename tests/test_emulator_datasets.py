"""Emulator over real loopback HTTP: dataset calls, their shapes, paging and validation codes."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
import test_emulator_support as support
from test_emulator_support import KEY_B, Api

from basicai_async.emulator import Emulator
from basicai_async.models import Dataset, IdPage, Page

pytestmark = pytest.mark.integration

# The shared fixtures, by assignment so that pytest finds them in this module.
emu, http, api = support.emu, support.http, support.api


async def test_create_returns_the_dataset_shape(api: Api) -> None:
    data = await api.ok(
        "POST", "/dataset/create", json={"name": " cars ", "type": "IMAGE", "description": "d"}
    )
    assert set(data) == {"id", "name", "type", "description", "createdAt", "updatedAt", "itemCount"}
    dataset = msgspec.convert(data, Dataset)
    assert (dataset.name, dataset.type, dataset.description, dataset.item_count) == ("cars", "IMAGE", "d", 0)
    assert data["createdAt"].endswith("Z")


async def test_ids_increase(api: Api) -> None:
    ids = [(await api.dataset(f"d{i}"))["id"] for i in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


async def test_update_is_partial_and_replace_clears(api: Api) -> None:
    ds = await api.ok("POST", "/dataset/create", json={"name": "a", "type": "IMAGE", "description": "keep"})
    updated = await api.ok("POST", f"/dataset/update/{ds['id']}", json={"name": "b"})
    assert (updated["name"], updated["description"], updated["type"]) == ("b", "keep", "IMAGE")
    updated = await api.ok("POST", f"/dataset/update/{ds['id']}", json={"description": "new"})
    assert (updated["name"], updated["description"]) == ("b", "new")
    replaced = await api.ok("POST", f"/dataset/replace/{ds['id']}", json={"name": "c", "type": "LIDAR_BASIC"})
    assert (replaced["name"], replaced["type"]) == ("c", "LIDAR_BASIC")
    assert "description" not in replaced
    assert await api.ok("GET", f"/dataset/info/{ds['id']}") == replaced


async def test_type_of_a_dataset_with_data_cannot_change(api: Api) -> None:
    ds = await api.dataset()
    await api.ok("POST", f"/dataset/addData/{ds['id']}", json={"name": "x", "files": [await api.upload()]})
    assert await api.code("POST", f"/dataset/update/{ds['id']}", json={"type": "TEXT"}) == "OPERATION_FAILED"


async def test_delete_one_and_many(api: Api) -> None:
    ids = [(await api.dataset(f"d{i}"))["id"] for i in range(4)]
    assert await api.ok("POST", f"/dataset/delete/{ids[0]}") is None
    assert await api.code("GET", f"/dataset/info/{ids[0]}") == "RESOURCE_NOT_FOUND"
    # All or none: one unknown id deletes nothing.
    params = {"datasetIds": f"{ids[1]},999"}
    assert await api.code("POST", "/dataset/delete", params=params) == "RESOURCE_NOT_FOUND"
    assert await api.ok("POST", "/dataset/delete", params={"datasetIds": f"{ids[1]},{ids[2]}"}) is None
    remaining = await api.ok("GET", "/dataset/listById", params={"limit": 100})
    assert [d["id"] for d in remaining["list"]] == [ids[3]]


async def test_info_many_keeps_request_order(api: Api) -> None:
    ids = [(await api.dataset(f"d{i}"))["id"] for i in range(3)]
    wanted = [ids[2], ids[0], ids[1]]
    data = await api.ok("GET", "/dataset/info", params={"datasetIds": ",".join(map(str, wanted))})
    assert [d["id"] for d in data] == wanted


async def test_list_filters_sorts_and_totals_on_page_one_only(api: Api) -> None:
    for name, type_ in [("car-1", "IMAGE"), ("bike", "IMAGE"), ("car-2", "LIDAR_BASIC"), ("Car-3", "IMAGE")]:
        await api.dataset(name, type_)
    first = await api.ok("GET", "/dataset/list", params={"pageSize": 2})
    assert first["total"] == 4
    assert len(first["list"]) == 2
    # Default order: newest first.
    assert [d["name"] for d in first["list"]] == ["Car-3", "car-2"]
    second = await api.ok("GET", "/dataset/list", params={"pageSize": 2, "pageNo": 2})
    assert "total" not in second
    assert [d["name"] for d in second["list"]] == ["bike", "car-1"]
    assert (await api.ok("GET", "/dataset/list", params={"pageNo": 3, "pageSize": 2}))["list"] == []
    cars = await api.ok("GET", "/dataset/list", params={"name": "car", "type": "IMAGE", "sortBy": "name"})
    assert [d["name"] for d in cars["list"]] == ["car-1", "Car-3"]
    by_name = await api.ok("GET", "/dataset/list", params={"sortBy": "name", "ascending": "true"})
    assert [d["name"] for d in by_name["list"]] == ["Car-3", "bike", "car-1", "car-2"]
    by_id = await api.ok("GET", "/dataset/list", params={"sortBy": "id", "ascending": "false"})
    assert [d["id"] for d in by_id["list"]] == sorted((d["id"] for d in by_id["list"]), reverse=True)
    page = msgspec.convert(by_id, Page[Dataset])
    assert page.total == 4


async def test_pages_and_traversal_over_many_datasets(api: Api) -> None:
    for i in range(250):
        await api.dataset(f"set-{i:03}")
    seen = []
    page_no = 1
    while True:
        data = await api.ok(
            "GET", "/dataset/list", params={"pageNo": page_no, "pageSize": 100, "ascending": "true"}
        )
        seen += [d["name"] for d in data["list"]]
        if len(data["list"]) < 100:
            break
        page_no += 1
    assert seen == [f"set-{i:03}" for i in range(250)]
    walked: list[int] = []
    params: dict[str, int] = {"limit": 100}
    while True:
        step = msgspec.convert(await api.ok("GET", "/dataset/listById", params=params), IdPage[Dataset])
        walked += [d.id for d in step.items]
        if len(step.items) < 100:
            break
        params["lastId"] = step.items[-1].id
    assert len(walked) == 250
    assert walked == sorted(walked)
    # lastId is exclusive.
    after = await api.ok("GET", "/dataset/listById", params={"lastId": walked[0], "limit": 1})
    assert [d["id"] for d in after["list"]] == [walked[1]]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/dataset/create", {"json": {"name": "", "type": "IMAGE"}}),
        ("POST", "/dataset/create", {"json": {"name": "   ", "type": "IMAGE"}}),
        ("POST", "/dataset/create", {"json": {"name": "x" * 300, "type": "IMAGE"}}),
        ("POST", "/dataset/create", {"json": {"name": 5, "type": "IMAGE"}}),
        ("POST", "/dataset/create", {"json": {"name": "n", "type": "VIDEO"}}),
        ("POST", "/dataset/create", {"json": {"type": "IMAGE"}}),
        ("POST", "/dataset/create", {"json": ["not", "an", "object"]}),
        ("GET", "/dataset/list", {"params": {"pageSize": 0}}),
        ("GET", "/dataset/list", {"params": {"pageSize": 101}}),
        ("GET", "/dataset/list", {"params": {"pageNo": 0}}),
        ("GET", "/dataset/list", {"params": {"pageNo": "one"}}),
        ("GET", "/dataset/list", {"params": {"sortBy": "size"}}),
        ("GET", "/dataset/list", {"params": {"ascending": "yes"}}),
        ("GET", "/dataset/listById", {"params": {"limit": 0}}),
        ("GET", "/dataset/listById", {"params": {"limit": 101}}),
        ("GET", "/dataset/listById", {"params": {"lastId": "-1"}}),
        ("GET", "/dataset/info", {"params": {"datasetIds": ",".join(str(i) for i in range(1, 102))}}),
        ("GET", "/dataset/info", {"params": {"datasetIds": "1,x"}}),
        ("GET", "/dataset/info", {}),
        ("GET", "/dataset/info/abc", {}),
        ("POST", "/dataset/delete", {"params": {"datasetIds": ""}}),
    ],
)
async def test_illegal_params(api: Api, method: str, path: str, kwargs: dict[str, object]) -> None:
    assert await api.code(method, path, **kwargs) == "ILLEGAL_PARAM"


async def test_malformed_json_is_illegal_format(api: Api) -> None:
    headers = {**api.headers(), "Content-Type": "application/json"}
    assert await api.code("POST", "/dataset/create", data=b"{nope", headers=headers) == "ILLEGAL_FORMAT"


async def test_duplicate_name_in_a_team_only(api: Api) -> None:
    await api.dataset("same")
    assert (
        await api.code("POST", "/dataset/create", json={"name": "same", "type": "IMAGE"}) == "NAME_DUPLICATED"
    )
    other = await api.dataset("other")
    assert (
        await api.code("POST", f"/dataset/update/{other['id']}", json={"name": "same"}) == "NAME_DUPLICATED"
    )
    api.key = KEY_B
    assert (await api.dataset("same"))["name"] == "same"


async def test_unknown_ids_are_not_found(api: Api) -> None:
    for method, path in [
        ("GET", "/dataset/info/404"),
        ("POST", "/dataset/update/404"),
        ("POST", "/dataset/delete/404"),
        ("GET", "/dataset/listItem/404"),
    ]:
        assert await api.code(method, path, json={}) == "RESOURCE_NOT_FOUND", path
    assert await api.code("GET", "/dataset/info", params={"datasetIds": "404"}) == "RESOURCE_NOT_FOUND"


async def test_another_teams_dataset_is_403(api: Api) -> None:
    ds = await api.dataset("mine")
    api.key = KEY_B
    for method, path in [("GET", f"/dataset/info/{ds['id']}"), ("POST", f"/dataset/delete/{ds['id']}")]:
        status, body, _ = await api.raw(method, path)
        assert status == 403, body
    status, _, _ = await api.raw("GET", "/dataset/info", params={"datasetIds": str(ds["id"])})
    assert status == 403
    listed = await api.ok("GET", "/dataset/list")
    assert listed == {"total": 0, "list": []}


async def test_wrong_method_is_405_and_unknown_path_404(api: Api) -> None:
    status, body, resp = await api.raw("GET", "/dataset/create")
    assert status == 405
    assert "POST" in resp.headers["Allow"]
    assert body["code"] == "METHOD_NOT_ALLOWED"
    assert (await api.raw("POST", "/dataset/list"))[0] == 405
    assert (await api.raw("DELETE", "/dataset/delete/1"))[0] == 405
    assert (await api.raw("GET", "/dataset/nothing"))[0] == 404


async def test_never_500_on_a_huge_body(emu: Emulator) -> None:
    # Raw socket: an HTTP client may still be writing when the 413 comes back.
    body = b"x" * ((1 << 20) + 4096)
    head = (
        f"POST /api/v1/dataset/create HTTP/1.1\r\nHost: x\r\nAuthorization: ApiKey key-a\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection(emu.host, emu.port)
    writer.write(head.encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    assert status_line.startswith(b"HTTP/1.1 413")
    assert emu.requests("key-a")[-1].status == 413
