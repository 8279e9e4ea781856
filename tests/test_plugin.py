"""The Plugin API helper over real loopback HTTP: a file server, the plugin service, a client."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web

from basicai_async.plugin import (
    Box2D,
    Box3D,
    Fetcher,
    FetchError,
    ImageItem,
    PointCloudItem,
    Prediction,
    create_app,
    serve_app,
)

# every_python: asyncio's lifecycle meets the interpreter here (see .ci/run).
pytestmark = [pytest.mark.integration, pytest.mark.every_python]

SIGNATURE = "X-Amz-Signature=sig-must-not-leak"


class FileServer:
    """Serves named bodies under ``/f/<name>``; anything else there is a 404."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.requested: list[str] = []
        self.base = ""
        self.app = web.Application()
        self.app.router.add_get("/f/{name}", self._file)
        self.app.router.add_get("/chunked/{name}", self._chunked)
        self.app.router.add_get("/redirect", self._redirect)
        self.app.router.add_get("/loop", self._loop)
        self.app.router.add_get("/broken", self._broken)
        self.app.router.add_get("/stall", self._stall)
        self.stalled = asyncio.Event()
        self.release = asyncio.Event()

    def add(self, name: str, body: bytes) -> str:
        self.bodies[name] = body
        return f"{self.base}f/{name}?{SIGNATURE}"

    async def _file(self, request: web.Request) -> web.Response:
        self.requested.append(request.match_info["name"])
        body = self.bodies.get(request.match_info["name"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body)

    async def _chunked(self, request: web.Request) -> web.StreamResponse:
        # No Content-Length: the size cap must hold on the bytes read.
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        body = self.bodies[request.match_info["name"]]
        for start in range(0, len(body), 64 * 1024):
            await response.write(body[start : start + 64 * 1024])
        await response.write_eof()
        return response

    async def _loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def _broken(self, request: web.Request) -> web.StreamResponse:
        # Promises 2000 bytes, sends 10, hangs up.
        response = web.StreamResponse(headers={"Content-Length": "2000"})
        await response.prepare(request)
        await response.write(b"0123456789")
        assert request.transport is not None
        request.transport.close()
        return response

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "10"})
        await response.prepare(request)
        self.stalled.set()
        await self.release.wait()  # sends no body until the test is done with it
        return response

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])


@pytest.fixture
async def files() -> AsyncIterator[FileServer]:
    server = FileServer()
    async with serve_app(server.app) as base:
        server.base = base
        yield server


Serve = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture
def plugin() -> Serve:
    """``async with plugin(predict, **options) as url``: the service on loopback, fetching from loopback."""

    @asynccontextmanager
    async def run(predict: Callable[..., Any], **options: Any) -> AsyncIterator[str]:
        options.setdefault("allow_private", True)
        async with serve_app(create_app(predict, **options)) as url:
            yield url

    return run


async def post(
    session: aiohttp.ClientSession, url: str, body: object, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else msgspec.json.encode(body)
    async with session.post(url, data=raw, headers=headers) as resp:
        return resp.status, msgspec.json.decode(await resp.read())


def box(label: str, size: float = 10.0) -> Box2D:
    return Box2D(
        label=label, confidence=0.8, left_top_x=0, left_top_y=0, right_bottom_x=size, right_bottom_y=size
    )


def images(files: FileServer, count: int) -> list[dict[str, Any]]:
    return [{"id": i, "url": files.add(f"img{i}.png", b"x" * i)} for i in range(1, count + 1)]


async def test_image_request_answers_each_item_in_order(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    seen: dict[int | str, bytes] = {}

    async def predict(item: ImageItem) -> list[Box2D]:
        seen[item.id] = item.image.read_bytes()
        return [box(f"len{item.image.size}")]

    datas = images(files, 3)
    datas[1]["unknownField"] = {"ignored": True}  # tolerant: unknown fields are ignored
    async with plugin(predict) as url:
        status, answer = await post(session, url, {"datas": datas, "extra": 1})
    assert status == 200
    assert answer["code"] == "OK"
    assert [e["id"] for e in answer["data"]] == [1, 2, 3]
    assert [e["code"] for e in answer["data"]] == ["OK", "OK", "OK"]
    assert seen == {1: b"x", 2: b"xx", 3: b"xxx"}
    assert answer["data"][2]["objects"] == [
        {
            "label": "len3",
            "confidence": 0.8,
            "leftTopX": 0.0,
            "leftTopY": 0.0,
            "rightBottomX": 10.0,
            "rightBottomY": 10.0,
        }
    ]
    assert "confidence" not in answer["data"][0]  # optional: left out when the model gives none


async def test_point_cloud_request_gets_all_files_and_3d_boxes(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    seen: dict[int | str, tuple[bytes, list[bytes], bytes | None]] = {}

    def predict(item: PointCloudItem) -> Prediction[Box3D]:  # sync: runs in a worker thread
        assert threading.current_thread() is not threading.main_thread()
        config = item.camera_config.read_bytes() if item.camera_config else None
        seen[item.id] = (item.point_cloud.read_bytes(), [i.read_bytes() for i in item.images], config)
        cube = Box3D(label="car", confidence=0.7, x=1, y=2, z=3, dx=4, dy=5, dz=6, rot_z=0.5)
        return Prediction(objects=[cube], confidence=0.9)

    datas = [
        {
            "id": 7,
            "pointCloudUrl": files.add("a.pcd", b"cloud-a"),
            "imageUrls": [files.add("cam0.jpg", b"c0"), None, files.add("cam1.jpg", b"c1")],
            "cameraConfigUrl": files.add("cam.json", b"{}"),
        },
        {
            "id": 8,
            "pointCloudUrl": files.add("b.pcd", b"cloud-b"),
            "imageUrls": None,
            "cameraConfigUrl": None,
        },
    ]
    async with plugin(predict, kind="pointcloud") as url:
        status, answer = await post(session, url, {"datas": datas})
    assert status == 200
    assert seen == {7: (b"cloud-a", [b"c0", b"c1"], b"{}"), 8: (b"cloud-b", [], None)}
    first = answer["data"][0]
    assert (first["id"], first["code"], first["confidence"]) == (7, "OK", 0.9)
    assert first["objects"] == [
        {
            "label": "car",
            "confidence": 0.7,
            "x": 1.0,
            "y": 2.0,
            "z": 3.0,
            "dx": 4.0,
            "dy": 5.0,
            "dz": 6.0,
            "rotX": 0.0,
            "rotY": 0.0,
            "rotZ": 0.5,
        }
    ]


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b"", "ILLEGAL_FORMAT", "the body is empty"),
        (b"{not json", "ILLEGAL_FORMAT", "not JSON"),
        (b"[]", "ILLEGAL_PARAM", "Expected `object`, got `array`"),
        (b"{}", "ILLEGAL_PARAM", "`datas` is missing or empty"),
        (b'{"datas": []}', "ILLEGAL_PARAM", "`datas` is missing or empty"),
        (b'{"datas": {"id": 1}}', "ILLEGAL_PARAM", "at `$.datas`"),
        (b'{"datas": [{"url": "http://x/y"}]}', "ILLEGAL_PARAM", "missing required field `id`"),
        (b'{"datas": [{"id": 1.5, "url": "http://x/y"}]}', "ILLEGAL_PARAM", "$.datas[0].id"),
    ],
)
async def test_malformed_request_is_a_400_envelope_saying_why(
    body: bytes, code: str, says: str, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    called = []

    async def predict(item: ImageItem) -> list[Box2D]:
        called.append(item)
        return []

    async with plugin(predict) as url:
        status, answer = await post(session, url, body)
    assert status == 400
    assert answer["code"] == code
    assert says in answer["message"]
    assert '{"datas": [{"id": 1, "url":' in answer["message"]  # and what was expected
    assert answer["data"] is None
    assert called == []


async def test_wrong_method_and_path_get_the_envelope_too(
    plugin: Serve, session: aiohttp.ClientSession
) -> None:
    async def predict(item: ImageItem) -> list[Box2D]:
        return []

    async with plugin(predict, path="/pointCloud/recognition") as url:
        async with session.get(url + "pointCloud/recognition") as resp:
            assert resp.status == 405
            answer = await resp.json()
            assert answer["code"] == "ERROR"
            assert (
                answer["message"] == "Method Not Allowed: POST a detection request to /pointCloud/recognition"
            )
        # BasicAI POSTs to the URL registered for the model: a different path must say which one is served.
        async with session.post(url + "elsewhere", json={"datas": []}) as resp:
            assert resp.status == 404
            message = (await resp.json())["message"]
    assert message.startswith(
        "Not Found: nothing is served at /elsewhere; this service answers POST /pointCloud/recognition"
    )
    assert "plugin serve --path" in message


async def test_one_failing_prediction_does_not_fail_the_others(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async def predict(item: ImageItem) -> list[Box2D]:
        if item.id == 2:
            raise RuntimeError("model exploded")
        return [box("ok")]

    async with plugin(predict) as url:
        status, answer = await post(session, url, {"datas": images(files, 3)})
    assert status == 200
    assert answer["code"] == "OK"  # some items succeeded: the envelope is OK, each item says its own
    assert [e["code"] for e in answer["data"]] == ["OK", "ERROR", "OK"]
    assert answer["data"][1]["message"] == "the prediction raised RuntimeError: model exploded"
    assert answer["data"][1]["objects"] == []
    assert any("model exploded" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


async def test_a_request_whose_every_item_failed_says_so_in_the_envelope_at_http_200(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    """BasicAI's image path reads only the envelope's code; a non-200 status makes it retry at once."""

    async def predict(item: ImageItem) -> list[Box2D]:
        raise RuntimeError(f"model exploded on {item.id}")

    async with plugin(predict) as url:
        # The platform sends one item per request: the envelope carries that item's message.
        one_status, one = await post(session, url, {"datas": images(files, 1)})
        two_status, two = await post(session, url, {"datas": images(files, 2)})
    assert one_status == two_status == 200
    assert one == {
        "code": "ERROR",
        "message": "the prediction raised RuntimeError: model exploded on 1",
        "data": [
            {
                "id": 1,
                "code": "ERROR",
                "message": "the prediction raised RuntimeError: model exploded on 1",
                "objects": [],
            }
        ],
    }
    assert two["code"] == "ERROR"
    assert two["message"] == (
        "all 2 items failed: item 1: the prediction raised RuntimeError: model exploded on 1; "
        "item 2: the prediction raised RuntimeError: model exploded on 2"
    )
    assert [e["code"] for e in two["data"]] == ["ERROR", "ERROR"]


async def test_a_file_that_404s_fails_only_its_item_and_hides_the_signature(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int | str] = []

    async def predict(item: ImageItem) -> list[Box2D]:
        calls.append(item.id)
        return [box("ok")]

    datas = [*images(files, 2), {"id": 3, "url": f"{files.base}f/missing.png?{SIGNATURE}"}]
    caplog.set_level(logging.INFO)
    async with plugin(predict) as url:
        status, answer = await post(session, url, {"datas": datas})
    assert status == 200
    assert [e["code"] for e in answer["data"]] == ["OK", "OK", "ERROR"]
    assert answer["data"][2]["message"] == f"cannot fetch {files.base}f/missing.png: HTTP 404"
    assert sorted(calls, key=str) == [1, 2]
    assert SIGNATURE not in caplog.text
    assert "f/missing.png: HTTP 404" in caplog.text


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ({"id": 1}, "the item has no `url`"),
        ({"id": 1, "url": None}, "the item has no `url`"),
        ({"id": 1, "url": "ftp://host/file"}, "only absolute http and https URLs"),
        ({"id": 1, "url": "not a url"}, "only absolute http and https URLs"),
    ],
)
async def test_an_item_without_a_fetchable_url_gets_its_own_error(
    item: dict[str, Any], says: str, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    async def predict(item: ImageItem) -> list[Box2D]:
        raise AssertionError("never called")

    async with plugin(predict) as url:
        status, answer = await post(session, url, {"datas": [item]})
    assert status == 200
    assert answer["data"][0]["code"] in ("ILLEGAL_PARAM", "ERROR")
    assert says in answer["data"][0]["message"]


async def test_a_missing_point_cloud_url_is_a_per_item_error(
    plugin: Serve, session: aiohttp.ClientSession
) -> None:
    async def predict(item: PointCloudItem) -> list[Box3D]:
        raise AssertionError("never called")

    async with plugin(predict, kind="pointcloud") as url:
        status, answer = await post(session, url, {"datas": [{"id": 1, "imageUrls": None}]})
    assert status == 200
    assert answer["data"][0] == {
        "id": 1,
        "code": "ILLEGAL_PARAM",
        "message": "the item has no `pointCloudUrl`",
        "objects": [],
    }


@pytest.mark.parametrize(
    ("outcome", "says"),
    [
        ({"label": "car"}, "returned dict; expected a list of Box2D or a Prediction"),
        (["car"], "returned a str; expected Box2D"),
        (
            [Box3D(label="c", confidence=1, x=0, y=0, z=0, dx=1, dy=1, dz=1)],
            "returned a Box3D; expected Box2D",
        ),
        ([box("nan", size=float("nan"))], "Box2D.right_bottom_x must be a finite number"),
        (
            [Box2D(label=3, confidence=1, left_top_x=0, left_top_y=0, right_bottom_x=1, right_bottom_y=1)],
            "label",
        ),  # type: ignore[arg-type]
        (
            [
                Box2D(
                    label="x", confidence="hi", left_top_x=0, left_top_y=0, right_bottom_x=1, right_bottom_y=1
                )
            ],
            "confidence",
        ),  # type: ignore[arg-type]
        (Prediction(objects=[], confidence=float("inf")), "Prediction.confidence must be a finite number"),
    ],
)
async def test_a_prediction_of_the_wrong_shape_is_a_per_item_error(
    outcome: object, says: str, files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    async def predict(item: ImageItem) -> Any:
        return outcome

    async with plugin(predict) as url:
        status, answer = await post(session, url, {"datas": images(files, 1)})
    assert status == 200
    assert answer["data"][0]["code"] == "ERROR"
    assert says in answer["data"][0]["message"]


async def test_numbers_of_other_types_are_sent_as_plain_floats(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    class Scalar:
        """Like a numpy scalar: convertible with float(), unknown to the JSON encoder."""

        def __float__(self) -> float:
            return 2.5

    async def predict(item: ImageItem) -> list[Box2D]:
        return [
            Box2D(
                label="x", confidence=1, left_top_x=Scalar(), left_top_y=0, right_bottom_x=3, right_bottom_y=4
            )
        ]  # type: ignore[arg-type]

    async with plugin(predict) as url:
        _, answer = await post(session, url, {"datas": images(files, 1)})
    assert answer["data"][0]["objects"][0]["leftTopX"] == 2.5
    assert answer["data"][0]["objects"][0]["confidence"] == 1.0


async def test_slow_prediction_hits_the_request_timeout_and_finished_items_keep_their_answers(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    never = asyncio.Event()
    cancelled = asyncio.Event()

    async def predict(item: ImageItem) -> list[Box2D]:
        if item.id == 2:
            try:
                await never.wait()
            finally:
                cancelled.set()
        return [box("fast")]

    # The fast item must be fetched and answered within the timeout even on a loaded machine.
    async with plugin(predict, timeout=1.0) as url:
        status, answer = await post(session, url, {"datas": images(files, 2)})
    assert status == 200
    assert answer["code"] == "OK"
    assert [e["code"] for e in answer["data"]] == ["OK", "ERROR"]
    assert answer["data"][1]["message"] == (
        "no answer within the service's 1s request timeout; "
        "raise it with `plugin serve --timeout SECONDS` (create_app(timeout=...))"
    )
    assert cancelled.is_set()  # the abandoned coroutine was cancelled, not left running


async def test_a_sync_prediction_past_the_deadline_keeps_its_slot_until_its_thread_returns(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    release = threading.Event()
    started = threading.Event()

    def predict(item: ImageItem) -> list[Box2D]:
        if item.id == 1:
            started.set()
            release.wait(10)
        return [box("done")]

    async with plugin(predict, timeout=1.0, concurrency=1) as url:
        try:
            _, first = await post(session, url, {"datas": images(files, 1)})
            assert started.is_set()
            assert first["data"][0]["code"] == "ERROR"
            # The thread still runs: with one slot, the next request cannot start.
            _, blocked = await post(session, url, {"datas": [{"id": 2, "url": files.add("b.png", b"b")}]})
            assert blocked["data"][0]["message"].startswith("no answer within")
            assert "b.png" not in files.requested  # it never got a slot, so never fetched
        finally:
            release.set()
        _, after = await post(session, url, {"datas": [{"id": 3, "url": files.add("c.png", b"c")}]})
    assert after["data"][0]["code"] == "OK"


async def test_the_concurrency_limit_holds_under_a_burst(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    limit = 3
    active = 0
    most = 0
    full = asyncio.Event()

    async def predict(item: ImageItem) -> list[Box2D]:
        nonlocal active, most
        active += 1
        most = max(most, active)
        if active == limit:
            full.set()
        await full.wait()  # the first calls wait until the limit is reached: it must be reachable
        await asyncio.sleep(0)  # and give any call beyond the limit a chance to start
        active -= 1
        return [box("x")]

    bodies = [
        {"datas": [{"id": f"{r}-{i}", "url": files.add(f"{r}-{i}", b"z")} for i in range(4)]}
        for r in range(5)
    ]
    async with plugin(predict, concurrency=limit) as url:
        answers = await asyncio.gather(*(post(session, url, body) for body in bodies))
    assert most == limit
    assert all(e["code"] == "OK" for _, answer in answers for e in answer["data"])
    assert sum(len(answer["data"]) for _, answer in answers) == 20


async def test_the_shared_secret_is_checked_and_never_logged(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-value"

    async def predict(item: ImageItem) -> list[Box2D]:
        return [box("x")]

    caplog.set_level(logging.DEBUG)
    body = {"datas": images(files, 1)}
    async with plugin(predict, secret=secret) as url:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": secret}):
            status, answer = await post(session, url, body, headers)
            assert status == 401
            assert answer["code"] == "ERROR"
            assert "Authorization: Bearer <secret>" in answer["message"]
            assert secret not in answer["message"]
        status, answer = await post(session, url, body, {"Authorization": f"Bearer {secret}"})
    assert status == 200
    assert answer["data"][0]["code"] == "OK"
    assert secret not in caplog.text


async def test_large_files_go_to_a_temporary_file_removed_after_the_prediction(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    body = bytes(range(256)) * 40
    seen: list[Any] = []

    def predict(item: ImageItem) -> list[Box2D]:
        seen.append((item.image.data, item.image.path, item.image.path and item.image.path.suffix))
        assert item.image.read_bytes() == body
        assert "X-Amz" not in repr(item.image)
        return []

    async with plugin(predict, memory_threshold=1000) as url:
        _, answer = await post(session, url, {"datas": [{"id": 1, "url": files.add("big.pcd", body)}]})
    assert answer["data"][0] == {"id": 1, "code": "OK", "message": "", "objects": []}
    [(data, path, suffix)] = seen
    assert data is None
    assert suffix == ".pcd"
    assert not path.exists()


@pytest.mark.parametrize("route", ["f", "chunked"])
async def test_a_file_over_the_size_cap_is_refused(
    route: str, files: FileServer, plugin: Serve, session: aiohttp.ClientSession, tmp_path: Any
) -> None:
    async def predict(item: ImageItem) -> list[Box2D]:
        raise AssertionError("never called")

    files.add("big", b"y" * 5000)
    async with plugin(predict, max_size=3000, memory_threshold=1000) as url:
        _, answer = await post(session, url, {"datas": [{"id": 1, "url": f"{files.base}{route}/big"}]})
    assert answer["data"][0]["code"] == "ERROR"
    assert (
        answer["data"][0]["message"]
        == f"cannot fetch {files.base}{route}/big: larger than the 3000-byte limit"
    )


async def test_redirects_are_followed_only_to_http(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    async def predict(item: ImageItem) -> list[Box2D]:
        return [box(item.image.read_bytes().decode())]

    target = files.add("t.png", b"target")
    datas = [
        {"id": 1, "url": f"{files.base}redirect?to={target.replace('?', '%3F').replace('&', '%26')}"},
        {"id": 2, "url": f"{files.base}redirect?to=file:///etc/passwd"},
    ]
    async with plugin(predict) as url:
        _, answer = await post(session, url, {"datas": datas})
    assert answer["data"][0]["objects"][0]["label"] == "target"
    assert answer["data"][1]["code"] == "ERROR"
    assert "only absolute http and https URLs" in answer["data"][1]["message"]


@pytest.mark.parametrize(
    ("host", "says"), [("127.0.0.1", "not a public address"), ("localhost", "non-public")]
)
async def test_private_addresses_are_not_fetched_unless_allowed(
    host: str, says: str, files: FileServer, plugin: Serve, session: aiohttp.ClientSession
) -> None:
    async def predict(item: ImageItem) -> list[Box2D]:
        raise AssertionError("never called")

    local = files.add("secret.txt", b"internal").replace("127.0.0.1", host)
    async with plugin(predict, allow_private=False) as url:
        _, answer = await post(session, url, {"datas": [{"id": 1, "url": local}]})
    assert answer["code"] == "ERROR"
    message = answer["data"][0]["message"]
    assert says in message
    # The refusal names the way out, for the self-hosted platform whose file URLs are private.
    assert "`plugin serve --allow-private` (create_app(allow_private=True))" in message
    assert "self-hosted platform" in message
    assert answer["message"] == message


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"kind": "video"}, ValueError),
        ({"concurrency": 0}, ValueError),
        ({"timeout": 0}, ValueError),
        ({"max_size": 0}, ValueError),
        ({"path": "detect"}, ValueError),
    ],
)
def test_bad_options_are_refused_when_the_app_is_made(
    options: dict[str, Any], error: type[Exception]
) -> None:
    async def predict(item: ImageItem) -> list[Box2D]:
        return []

    with pytest.raises(error):
        create_app(predict, **options)


def test_predict_must_be_callable() -> None:
    with pytest.raises(TypeError, match="predict must be callable"):
        create_app("not a function")  # type: ignore[call-overload]


async def test_a_failed_file_of_a_point_cloud_discards_the_files_already_fetched(
    files: FileServer, plugin: Serve, session: aiohttp.ClientSession, tmp_path: Any
) -> None:
    async def predict(item: PointCloudItem) -> list[Box3D]:
        raise AssertionError("never called")

    datas = [
        {
            "id": 1,
            "pointCloudUrl": files.add("big.pcd", b"p" * 5000),
            "imageUrls": [f"{files.base}f/missing.jpg"],
        }
    ]
    async with serve_app(
        create_app(predict, kind="pointcloud", allow_private=True, memory_threshold=100)
    ) as url:
        _, answer = await post(session, url, {"datas": datas})
    assert answer["data"][0]["message"] == f"cannot fetch {files.base}f/missing.jpg: HTTP 404"
    assert "big.pcd" in files.requested


async def test_fetcher_failures_are_worded_without_the_query(files: FileServer, tmp_path: Any) -> None:
    async with Fetcher(
        allow_private=True, read_timeout=1.0, memory_threshold=100, max_size=300_000, temp_dir=tmp_path
    ) as fetcher:
        with pytest.raises(FetchError, match=r"loop: more than 5 redirects$"):
            await fetcher.fetch(f"{files.base}loop?{SIGNATURE}")
        with pytest.raises(FetchError, match=r"broken: the connection broke while reading the body$"):
            await fetcher.fetch(f"{files.base}broken?{SIGNATURE}")
        with pytest.raises(FetchError, match=r"stall: timed out$"):
            await fetcher.fetch(f"{files.base}stall?{SIGNATURE}")
        assert files.stalled.is_set()
        files.release.set()
        # Chunks of at most 256 KiB: the first is spilled to disk, a later one passes the cap.
        files.add("big", b"b" * 600_000)
        with pytest.raises(FetchError, match="larger than the 300000-byte limit") as caught:
            await fetcher.fetch(f"{files.base}chunked/big?{SIGNATURE}")
        assert SIGNATURE not in str(caught.value)
        small = await fetcher.fetch(files.add("small", b"s" * 50))
    assert (small.data, small.path, small.size) == (b"s" * 50, None, 50)
    assert "X-Amz" not in repr(small)
    assert list(tmp_path.iterdir()) == []  # a spilled body over the cap was removed
