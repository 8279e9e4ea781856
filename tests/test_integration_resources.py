"""Every resource method of the SDK against the emulator over loopback, with its typed models checked."""

from __future__ import annotations

from datetime import datetime

import pytest
import test_integration_support as support
from test_integration_support import KEY, as_refs, capture, loose_limiter, upload
from yarl import URL

from basicai_async import AsyncBasicAI, ResourceNotFoundError, UploadSource
from basicai_async.emulator import Emulator
from basicai_async.models import (
    AnnotationResult,
    AnnotationSource,
    Batch,
    DataItem,
    Dataset,
    Instance,
    Item,
    NewData,
    PresignedUpload,
    PresignRequest,
    Scene,
)

pytestmark = pytest.mark.integration

emu, client = support.emu, support.client


async def test_datasets_every_method(client: AsyncBasicAI) -> None:
    cars = await client.datasets.create(name="cars", type="IMAGE", description="front camera")
    assert isinstance(cars, Dataset)
    assert (cars.name, cars.type, cars.description, cars.item_count) == ("cars", "IMAGE", "front camera", 0)
    assert isinstance(cars.created_at, datetime)
    assert cars.created_at.tzinfo is not None
    bikes = await client.datasets.create(name="bikes", type="LIDAR_FUSION")
    assert bikes.id > cars.id

    updated = await client.datasets.update(cars.id, description="rear camera")
    assert (updated.id, updated.name, updated.description) == (cars.id, "cars", "rear camera")
    replaced = await client.datasets.replace(cars.id, name="cars-2", type="IMAGE")
    assert (replaced.name, replaced.description) == ("cars-2", None)
    assert replaced.updated_at is not None
    assert cars.updated_at is not None
    assert replaced.updated_at >= cars.updated_at

    assert await client.datasets.get(cars.id) == replaced
    assert [d.id for d in await client.datasets.get_many([bikes.id, cars.id])] == [bikes.id, cars.id]

    listed = [d async for d in client.datasets.list(sort_by="name", ascending=True)]
    assert [d.name for d in listed] == ["bikes", "cars-2"]
    assert all(isinstance(d, Dataset) for d in listed)
    assert [d.id async for d in client.datasets.list(name="car")] == [cars.id]
    assert [d.id async for d in client.datasets.list(type="LIDAR_FUSION")] == [bikes.id]
    assert [d.id async for d in client.datasets.iter_by_id()] == [cars.id, bikes.id]

    assert await client.datasets.delete(cars.id) is None
    with pytest.raises(ResourceNotFoundError):
        await client.datasets.get(cars.id)
    third = await client.datasets.create(name="third", type="TEXT")
    assert await client.datasets.delete_many([bikes.id, third.id]) is None
    assert [d async for d in client.datasets.iter_by_id()] == []


async def test_storage_presign_then_put(client: AsyncBasicAI, emu: Emulator) -> None:
    requests = [PresignRequest(filename=f"f{i}.jpg", size=10 + i) for i in range(3)]
    signed = await client.storage.presign_uploads(requests)
    assert all(isinstance(s, PresignedUpload) for s in signed)
    for s in signed:
        if emu.dialect == "guide":
            assert s.register_path == s.path
            assert s.pre_signed_url.startswith(f"{s.path}?")
            assert s.expires_at is not None
            assert s.expires_at.tzinfo is not None
        else:
            # Storage names the path to register, itself a signed URL, and it is not the PUT URL.
            assert s.register_path == s.access_url
            assert s.access_url is not None
            assert "X-Amz-Signature=" in s.access_url
            assert s.display_path == s.access_url.split("?", 1)[0]
            assert not s.pre_signed_url.startswith(f"{s.access_url}?")
    assert [URL(s.register_path).name for s in signed] == ["f0.jpg", "f1.jpg", "f2.jpg"]
    file = await upload(client, "cam.jpg", b"0123456789")
    assert emu.read_object(file.path) == b"0123456789"


async def test_data_scenes_batches_items_every_method(client: AsyncBasicAI) -> None:
    ds = await client.datasets.create(name="drive", type="IMAGE")
    file = await upload(client)

    one = await client.data.add(ds.id, name="frame-0", files=[file])
    assert isinstance(one, DataItem)
    assert (one.name, one.dataset_id, one.parent_id, as_refs(one.files)) == (
        "frame-0",
        ds.id,
        None,
        as_refs([file]),
    )

    batch = await client.batches.add(ds.id, name="batch-1")
    assert isinstance(batch, Batch)
    assert (batch.name, batch.dataset_id) == ("batch-1", ds.id)
    in_batch = await client.data.add(ds.id, name="in-batch", files=[file], batch_id=batch.id)
    assert in_batch.parent_id == batch.id

    many = await client.data.add_many(ds.id, [NewData(name=f"n{i}", files=[file]) for i in range(5)])
    assert [d.name for d in many] == [f"n{i}" for i in range(5)]
    assert all(isinstance(d, DataItem) and d.dataset_id == ds.id for d in many)
    assert [d.id for d in many] == sorted(d.id for d in many)

    frames = [NewData(name=f"f{i}", files=[file]) for i in range(3)]
    scene = await client.scenes.add(ds.id, name="scene-1", batch_id=batch.id, frames=frames)
    assert isinstance(scene, Scene)
    assert (scene.name, scene.batch_id, scene.dataset_id) == ("scene-1", batch.id, ds.id)
    assert scene.frames is not None
    assert [(f.name, f.parent_id) for f in scene.frames] == [(f"f{i}", scene.id) for i in range(3)]
    empty_scene = await client.scenes.add(ds.id, name="scene-0")
    assert empty_scene.frames in (None, [])

    top = [item async for item in client.items.list(ds.id)]
    assert all(isinstance(item, Item) for item in top)
    assert [(i.id, i.item_type) for i in top] == [
        (one.id, "DATA"),
        (batch.id, "BATCH"),
        *[(d.id, "DATA") for d in many],
        (empty_scene.id, "SCENE"),
    ]
    assert as_refs(top[0].files) == as_refs([file])
    assert [i.id async for i in client.items.iter_by_id(ds.id, limit=2)] == [i.id for i in top]
    in_level = [(i.id, i.item_type) async for i in client.items.list(ds.id, parent_id=batch.id)]
    assert in_level == [(in_batch.id, "DATA"), (scene.id, "SCENE")]
    frame_ids = [i.id async for i in client.items.iter_by_id(ds.id, parent_id=scene.id)]
    assert frame_ids == [f.id for f in scene.frames]
    assert (await client.datasets.get(ds.id)).item_count == 1 + 1 + 5 + 3

    assert await client.data.remove(ds.id, one.id) is None
    assert await client.data.remove_many(ds.id, [d.id for d in many[:3]]) is None
    assert await client.scenes.remove(ds.id, scene.id) is None
    assert await client.data.remove(ds.id, in_batch.id) is None
    assert await client.batches.remove(ds.id, batch.id) is None
    assert await client.scenes.remove(ds.id, empty_scene.id) is None
    assert [i.id async for i in client.items.list(ds.id)] == [d.id for d in many[3:]]
    assert (await client.datasets.get(ds.id)).item_count == 2


async def test_annotation_sources_and_results(client: AsyncBasicAI) -> None:
    ds = await client.datasets.create(name="labelled", type="IMAGE")
    file = await upload(client)
    datas = await client.data.add_many(ds.id, [NewData(name=f"d{i}", files=[file]) for i in range(3)])
    scene = await client.scenes.add(ds.id, name="s", frames=[NewData(name="fr", files=[file])] * 2)

    sources = await client.annotations.list_sources(ds.id)
    assert len(sources) == 2
    assert all(isinstance(s, AnnotationSource) and s.type and s.name for s in sources)

    results = await client.annotations.get_data_results(ds.id, datas[0].id)
    assert all(isinstance(r, AnnotationResult) for r in results)
    assert [(r.data_id, r.source_id) for r in results] == [(datas[0].id, s.id) for s in sources]
    for result in results:
        assert result.source_type in {s.type for s in sources}
        assert result.instances
        assert all(isinstance(i, Instance) for i in result.instances)
        assert all(i.class_name and i.contour for i in result.instances)
    only = await client.annotations.get_data_results(ds.id, datas[0].id, source_id=sources[1].id)
    assert only == [results[1]]
    # Deterministic: asking again gives the same thing.
    assert await client.annotations.get_data_results(ds.id, datas[0].id) == results

    ids = [d.id for d in datas]
    many = await client.annotations.get_many_data_results(ds.id, ids[::-1], source_id=sources[0].id)
    assert [r.data_id for r in many] == ids[::-1]
    assert many[-1] == results[0]

    assert scene.frames is not None
    scene_results = await client.annotations.get_scene_results(ds.id, scene.id)
    assert sorted({r.data_id for r in scene_results}) == [f.id for f in scene.frames]
    assert len(scene_results) == 2 * len(sources)
    with pytest.raises(ResourceNotFoundError):
        await client.annotations.get_data_results(ds.id, datas[0].id, source_id=10**9)


async def test_escape_hatch_returns_plain_data(client: AsyncBasicAI) -> None:
    created = await client.request("POST", "/dataset/create", json={"name": "raw", "type": "IMAGE"})
    assert created["name"] == "raw"
    assert isinstance(created["id"], int)
    info = await client.request("GET", f"/dataset/info/{created['id']}")
    assert info == created
    page = await client.request("GET", "/dataset/list", params={"pageSize": 1, "pageNo": 1})
    assert page["total"] == 1
    assert page["list"] == [created]
    assert await client.request("POST", f"/dataset/delete/{created['id']}", idempotent=True) is None


async def test_uploader_registers_every_file_without_sending_the_key_to_storage() -> None:
    emulator = Emulator({KEY: "team-a"}, limits=None)
    seen = capture(emulator)
    async with emulator, AsyncBasicAI(KEY, base_url=emulator.base_url, limiter=loose_limiter()) as sdk:
        ds = await sdk.datasets.create(name="uploads", type="IMAGE")
        contents = {f"img-{i:03d}.jpg": f"jpeg-{i}".encode() * (1 + i % 7) for i in range(130)}
        sources = [UploadSource.from_bytes(name, data) for name, data in contents.items()]
        report = await sdk.uploader(concurrency=8).upload(ds.id, sources)

        assert [r.name for r in report.results] == list(contents)
        assert report.failed == []
        ids = [r.data_id for r in report.results]
        assert len(set(ids)) == 130
        for result in report.results:
            assert result.path is not None
            assert emulator.read_object(result.path) == contents[result.name]
        registered = {i.id: i.name async for i in sdk.items.iter_by_id(ds.id)}
        assert registered == {r.data_id: r.name for r in report.results}

    store = [c for c in seen if c.path.startswith("/_store/")]
    api = [c for c in seen if c.path.startswith("/api/v1/")]
    assert len(store) == 130
    assert all(c.method == "PUT" for c in store)
    assert api
    assert all(c.headers["Authorization"] == f"ApiKey {KEY}" for c in api)
    for request in store:
        assert "Authorization" not in request.headers
        assert KEY not in request.url
        assert all(KEY not in value for value in request.headers.values())
    assert KEY not in repr(report)
