"""The emulator's two dialects on the wire, read as raw JSON (not through the SDK's models)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import test_emulator_support as support
from test_emulator_support import KEY_A, Api, Lines
from yarl import URL

from basicai_async.emulator import DIALECT_ENV, DIALECTS, Emulator
from basicai_async.emulator._cli import add_arguments, parse_args, serve

pytestmark = pytest.mark.integration

emu, http, api = support.emu, support.http, support.api


@pytest.fixture
async def x1() -> AsyncIterator[Api]:
    emulator = Emulator({KEY_A: "team-a"}, limits=None, dialect="xtreme1")
    async with emulator, aiohttp.ClientSession() as session:
        yield Api(session, emulator)


async def _raw(api: Api, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    body: dict[str, Any] = await api.envelope(method, path, **kwargs)
    return body


async def _upload(api: Api, name: str, content: bytes) -> dict[str, Any]:
    presigned = await _raw(
        api,
        "POST",
        "/storage/batchGeneratePreSignedUploadUrl",
        json=[{"filename": name, "size": len(content)}],
    )
    (signed,) = presigned["data"]
    async with api.http.put(signed["presignedUrl"], data=content) as resp:
        assert resp.status == 200, await resp.text()
    return signed  # type: ignore[no-any-return]


async def test_xtreme1_envelope_datasets_and_pages(x1: Api) -> None:
    created = await _raw(x1, "POST", "/dataset/create", json={"name": "d", "type": "IMAGE"})
    assert (created["code"], created["message"]) == ("ok", None)
    ds = created["data"]
    assert ds["description"] is None
    assert {"createdBy", "annotatedCount", "notAnnotatedCount", "invalidCount"} <= set(ds)
    assert ds["createdAt"].endswith("Z")
    second = await _raw(x1, "GET", "/dataset/list", params={"pageNo": "2", "pageSize": "1"})
    assert second["data"] == {"pageNo": 2, "pageSize": 1, "total": 1, "list": None}
    done = await _raw(x1, "GET", "/dataset/listById", params={"lastId": str(ds["id"])})
    assert done["data"] == {"list": None}


async def test_xtreme1_pre_sign_answers_a_signed_access_url_registered_only_as_sent(x1: Api) -> None:
    ds = (await _raw(x1, "POST", "/dataset/create", json={"name": "d", "type": "IMAGE"}))["data"]
    signed = await _upload(x1, "a.jpg", b"jpeg")
    assert set(signed) == {"presignedUrl", "accessUrl"}
    access = URL(signed["accessUrl"])
    assert access.name == "a.jpg"
    assert access.query["X-Amz-Signature"]
    assert access.query["X-Amz-Expires"] == "604800"
    # Storage only knows the object under the exact URL it named: not the PUT URL's path,
    # not the access URL without its query, not one with its signature redacted.
    bare = str(URL(signed["presignedUrl"]).with_query(None))
    unsigned = str(access.with_query(None))
    redacted = str(access.update_query({"X-Amz-Signature": "REDACTED"}))
    for path in (bare, unsigned, redacted):
        wrong = {"name": "f", "files": [{"path": path, "size": 4, "mimeType": "image/jpeg"}]}
        refused = await _raw(x1, "POST", f"/dataset/addData/{ds['id']}", json=wrong)
        assert refused["code"] == "DATASET_DATA_FILE_URL_ERROR", path
    right = {"name": "f", "files": [{"path": signed["accessUrl"], "size": 4, "mimeType": "image/jpeg"}]}
    data = (await _raw(x1, "POST", f"/dataset/addData/{ds['id']}", json=right))["data"]
    assert x1.emu.read_object(signed["accessUrl"]) == b"jpeg"
    assert (data["type"], data["annotationStatus"], data["parentId"], data["splitType"]) == (
        "SINGLE_DATA",
        "NOT_ANNOTATED",
        None,
        None,
    )
    assert "files" not in data
    [folder] = data["content"]
    assert (folder["name"], folder["type"]) == ("image_0", "directory")
    [leaf] = folder["files"]
    assert (leaf["type"], leaf["name"]) == ("file", "a.jpg")
    file = leaf["file"]
    assert (file["@type"], file["type"], file["size"], file["name"]) == (
        "imageFile",
        "image/jpeg",
        4,
        "a.jpg",
    )
    # As the platform's, a URL the file can be read by: a signed GET of the same object.
    readable = URL(file["url"])
    assert readable.name == "a.jpg"
    assert readable.path.rsplit("/", 2)[-2] == access.path.rsplit("/", 2)[-2]
    async with x1.http.get(file["url"]) as got:
        assert (got.status, await got.read()) == (200, b"jpeg")
    # The path is the object's key, as the platform lists it: the access URL's path ends with it.
    assert access.path.endswith("/" + file["path"])
    assert x1.emu.read_object(file["path"]) == b"jpeg"
    assert file["largeThumbnail"]["name"] == "large_a.jpg"


async def test_xtreme1_writes_the_platforms_code_names_and_empty_updates(x1: Api) -> None:
    ds = (await _raw(x1, "POST", "/dataset/create", json={"name": "d", "type": "IMAGE"}))["data"]
    assert (await _raw(x1, "GET", "/dataset/info/999999"))["code"] == "DATASET_NOT_FOUND"
    again = await _raw(x1, "POST", "/dataset/create", json={"name": "d", "type": "IMAGE"})
    assert again["code"] == "DATASET_NAME_DUPLICATED"
    bad = await _raw(x1, "POST", "/dataset/create", json={"name": "e", "type": "NOPE"})
    assert bad["code"] == "PARAM_ERROR"
    gone = await _raw(x1, "POST", f"/dataset/removeData/{ds['id']}/999999")
    assert gone["code"] == "DATA_NOT_FOUND"
    signed = await _upload(x1, "a.pcd", b"pcd!")
    pcd = {"path": signed["accessUrl"], "size": 4, "mimeType": "application/octet-stream"}
    unsupported = await _raw(x1, "POST", f"/dataset/addData/{ds['id']}", json={"name": "f", "files": [pcd]})
    assert unsupported["code"] == "FILE_TYPE_NOT_SUPPORT"
    updated = await _raw(x1, "POST", f"/dataset/update/{ds['id']}", json={"description": "x"})
    assert (updated["code"], updated["data"]) == ("ok", None)


async def test_xtreme1_items_and_results(x1: Api) -> None:
    ds = (await _raw(x1, "POST", "/dataset/create", json={"name": "d", "type": "IMAGE"}))["data"]
    signed = await _upload(x1, "a.jpg", b"jpeg")
    file = {"path": signed["accessUrl"], "size": 4, "mimeType": "image/jpeg"}
    batch = (await _raw(x1, "POST", f"/dataset/addBatch/{ds['id']}", json={"name": "b"}))["data"]
    empty = (await _raw(x1, "POST", f"/dataset/addScene/{ds['id']}", json={"name": "s"}))["data"]
    assert (empty["type"], empty["frames"], empty["batchId"]) == ("SCENE", None, None)
    data = (await _raw(x1, "POST", f"/dataset/addData/{ds['id']}", json={"name": "f", "files": [file]}))[
        "data"
    ]
    level = (await _raw(x1, "GET", f"/dataset/listItem/{ds['id']}"))["data"]
    assert [(i["id"], i["type"]) for i in level["list"]] == [
        (batch["id"], "BATCH"),
        (empty["id"], "SCENE"),
        (data["id"], "SINGLE_DATA"),
    ]
    assert all("itemType" not in i and "files" not in i for i in level["list"])
    assert [len(i["content"]) for i in level["list"]] == [0, 0, 1]
    results = (await _raw(x1, "GET", f"/dataset/dataAnnotationResult/{ds['id']}/{data['id']}"))["data"]
    by_type = {r["sourceType"]: r for r in results}
    model, truth = by_type["MODEL"], by_type["EXTERNAL_GROUND_TRUTH"]
    for result in results:
        assert result["version"] == "1.0"
        assert "instances" not in result
        assert all(isinstance(o["classId"], str) for o in result["objects"])
    assert model["classificationValues"] is None
    assert [o["classValues"] for o in model["objects"]][:2] in ([{}], [{}, None])
    assert all(isinstance(o["modelConfidence"], float) and o["modelClass"] for o in model["objects"])
    assert isinstance(truth["classificationValues"], list)
    assert all(o["modelConfidence"] is None for o in truth["objects"])


async def test_guide_answers_keep_the_main_shapes(api: Api) -> None:
    created = await _raw(api, "POST", "/dataset/create", json={"name": "d", "type": "IMAGE"})
    assert (created["code"], created["message"]) == ("OK", "")
    assert "description" not in created["data"]
    presigned = await _raw(
        api, "POST", "/storage/batchGeneratePreSignedUploadUrl", json=[{"filename": "a.jpg", "size": 1}]
    )
    (signed,) = presigned["data"]
    assert signed["preSignedUrl"].startswith(signed["path"] + "?")
    second = await _raw(api, "GET", "/dataset/list", params={"pageNo": "2"})
    assert second["data"] == {"list": []}
    file = {**await api.upload("b.jpg"), "deviceName": "cam-front"}
    body = {"name": "f", "files": [file]}
    data = (await _raw(api, "POST", f"/dataset/addData/{created['data']['id']}", json=body))["data"]
    (answered,) = data["files"]
    # The file as registered, plus a signed URL to read it (BasicAI's export answers carry one).
    url = answered.pop("url")
    assert answered == file
    assert url.startswith(file["path"] + "?")
    assert "Signature=" in url


def test_an_unknown_dialect_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="guide, xtreme1"):
        Emulator(dialect="swagger")


def test_the_dialect_comes_from_the_argument_else_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DIALECT_ENV, raising=False)
    assert Emulator().dialect == "guide"
    monkeypatch.setenv(DIALECT_ENV, "xtreme1")
    assert Emulator().dialect == "xtreme1"
    assert Emulator(dialect="guide").dialect == "guide"
    assert sorted(DIALECTS) == ["guide", "xtreme1"]


def test_the_command_line_takes_a_dialect() -> None:
    assert parse_args(["--dialect", "xtreme1"]).dialect == "xtreme1"
    assert parse_args([]).dialect is None


def test_the_command_line_refuses_an_unknown_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--dialect", "swagger"])
    assert "invalid choice: 'swagger'" in capsys.readouterr().err


def test_the_emulator_arguments_can_be_added_to_another_parser() -> None:
    other = argparse.ArgumentParser(prog="basicai-async emulator")
    add_arguments(other)
    assert other.parse_args(["--dialect", "guide", "--port", "0"]).dialect == "guide"


async def test_serve_speaks_the_dialect_asked_for() -> None:
    out, stop = Lines(), asyncio.Event()
    args = parse_args(["--port", "0", "--no-limits", "--api-key", "k", "--dialect", "xtreme1"])
    task = asyncio.create_task(serve(args, stop, out))
    while "\n" not in out.getvalue():
        await out.printed.wait()
        out.printed.clear()
    base_url = out.getvalue().splitlines()[0]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/dataset/list", headers={"Authorization": "ApiKey k"}) as resp,
    ):
        assert (await resp.json())["code"] == "ok"
    stop.set()
    await task
