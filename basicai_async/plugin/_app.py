"""Serve a prediction function as a BasicAI Plugin API model service (an ``aiohttp.web`` application).

BasicAI POSTs ``{"datas": [...]}`` to the service; for each item the service
fetches the referenced files, calls the user's function with typed inputs and
answers with one result per item, in order. An item that cannot be fetched,
whose prediction raises or which is still running at the request's deadline
gets its own error code and message; the other items are answered normally.

When every item of a request failed, the envelope says so too (``code:
"ERROR"`` with the items' messages, still HTTP 200): BasicAI's image path reads
only the envelope's code, and would save a failed item as a success with no
objects. A failure of the model is never an HTTP error status: on anything but
200 the platform's caller throws and retries at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hmac
import inspect
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeAlias, overload

import anyio
import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

from .._constants import EnvelopeCode
from ._fetch import DEFAULT_MAX_SIZE, DEFAULT_MEMORY_THRESHOLD, FetchedFile, Fetcher, FetchError
from ._models import (
    B,
    Box2D,
    Box3D,
    ImageRequest,
    ImageRequestItem,
    ItemResult,
    PluginResponse,
    PointCloudRequest,
    PointCloudRequestItem,
)

__all__ = [
    "KINDS",
    "ImageItem",
    "ImagePredictor",
    "Kind",
    "PointCloudItem",
    "PointCloudPredictor",
    "Prediction",
    "create_app",
    "serve_app",
]

Kind: TypeAlias = Literal["image", "pointcloud"]
KINDS: tuple[Kind, ...] = ("image", "pointcloud")
_log = logging.getLogger("basicai_async.plugin")
_RequestItem: TypeAlias = ImageRequestItem | PointCloudRequestItem


@dataclass(frozen=True, slots=True)
class ImageItem:
    """What an image prediction receives: the item's id and its fetched image."""

    id: int | str
    image: FetchedFile


@dataclass(frozen=True, slots=True)
class PointCloudItem:
    """What a point-cloud prediction receives: the id, the point cloud, its camera images and calibration."""

    id: int | str
    point_cloud: FetchedFile
    images: tuple[FetchedFile, ...] = ()
    camera_config: FetchedFile | None = None


@dataclass(frozen=True, slots=True)
class Prediction(Generic[B]):
    """A prediction with an overall ``confidence``; a plain list of boxes is a prediction without one."""

    objects: Sequence[B]
    confidence: float | None = None


ImagePredictor: TypeAlias = (
    Callable[[ImageItem], Awaitable[Sequence[Box2D] | Prediction[Box2D]]]
    | Callable[[ImageItem], Sequence[Box2D] | Prediction[Box2D]]
)
"""An image prediction: async, or sync (then run in a worker thread)."""
PointCloudPredictor: TypeAlias = (
    Callable[[PointCloudItem], Awaitable[Sequence[Box3D] | Prediction[Box3D]]]
    | Callable[[PointCloudItem], Sequence[Box3D] | Prediction[Box3D]]
)
"""A point-cloud prediction: async, or sync (then run in a worker thread)."""

_REQUEST_EXAMPLE = {
    "image": '{"datas": [{"id": 1, "url": "https://..."}]}',
    "pointcloud": (
        '{"datas": [{"id": 1, "pointCloudUrl": "https://...", "imageUrls": [], "cameraConfigUrl": null}]}'
    ),
}
_encoder = msgspec.json.Encoder()


class _ItemError(Exception):
    """One item's failure, already worded for the answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _refusal(status: int, code: str, message: str) -> web.Response:
    """A whole request refused: the envelope still says why."""
    body = _encoder.encode(PluginResponse[Box2D](code=code, message=message, data=None))
    return web.Response(status=status, body=body, content_type="application/json")


def _all_failed(results: Sequence[ItemResult[Any]]) -> str:
    """The envelope's message when no item succeeded: the item's own (BasicAI sends one per request)."""
    if len(results) == 1:
        return results[0].message
    reasons = "; ".join(f"item {r.id}: {r.message}" for r in results)
    return f"all {len(results)} items failed: {reasons}"


def _image_urls(data: PointCloudRequestItem) -> list[str]:
    """The camera image URLs; ``null`` (for the list or an entry) reads as none."""
    return [u for u in data.image_urls or () if u]


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def _clean_box(obj: object, box: type[Box2D] | type[Box3D]) -> Box2D | Box3D:
    """A fresh box of plain floats: numpy scalars and NaN would otherwise break or corrupt the answer."""
    if not isinstance(obj, box):
        returned = type(obj).__name__
        raise _ItemError(EnvelopeCode.ERROR, f"the prediction returned a {returned}; expected {box.__name__}")
    values: dict[str, Any] = {}
    for name in box.__struct_fields__:
        value = getattr(obj, name)
        if name == "label":
            if not isinstance(value, str):
                raise _ItemError(EnvelopeCode.ERROR, f"{box.__name__}.label must be a str, not {value!r}")
            values[name] = value
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            message = f"{box.__name__}.{name} must be a finite number, not {value!r}"
            raise _ItemError(EnvelopeCode.ERROR, message)
        values[name] = number
    return box(**values)


class _Service:
    """The request handler and what it shares between requests: slots, threads, the fetcher."""

    def __init__(
        self,
        predict: Callable[[Any], Any],
        *,
        kind: Kind,
        secret: str | None,
        concurrency: int,
        timeout: float,
        fetcher: Fetcher,
    ) -> None:
        self._predict = predict
        self._is_async = _is_async(predict)
        self._kind = kind
        self._box: type[Box2D] | type[Box3D] = Box2D if kind == "image" else Box3D
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
            ImageRequest if kind == "image" else PointCloudRequest
        )
        # Kept as bytes and compared in constant time; never logged nor shown.
        self._secret = None if secret is None else secret.encode()
        self._slots = asyncio.Semaphore(concurrency)
        self._timeout = timeout
        self._fetcher = fetcher
        self._threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="basicai-plugin")

    async def close(self) -> None:
        # A sync prediction abandoned at its deadline may still run: do not wait for it.
        self._threads.shutdown(wait=False, cancel_futures=True)
        await self._fetcher.close()

    def _authorized(self, request: web.Request) -> bool:
        if self._secret is None:
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self._secret)

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            why = "missing or wrong shared secret: send 'Authorization: Bearer <secret>'"
            return _refusal(401, EnvelopeCode.ERROR, why)
        body = await request.read()
        example = _REQUEST_EXAMPLE[self._kind]
        if not body.strip():
            return _refusal(400, EnvelopeCode.ILLEGAL_FORMAT, f"the body is empty; expected {example}")
        try:
            parsed = self._decoder.decode(body)
        except msgspec.ValidationError as exc:
            why = f"the body is not a valid {self._kind} detection request: {exc}; expected {example}"
            return _refusal(400, EnvelopeCode.ILLEGAL_PARAM, why)
        except msgspec.DecodeError as exc:
            why = f"the body is not JSON: {exc}; expected {example}"
            return _refusal(400, EnvelopeCode.ILLEGAL_FORMAT, why)
        if not parsed.datas:
            why = f"`datas` is missing or empty; expected {example}"
            return _refusal(400, EnvelopeCode.ILLEGAL_PARAM, why)
        started = time.monotonic()
        results = await self._answer_all(parsed.datas)
        failed = sum(r.code != EnvelopeCode.OK for r in results)
        _log.info(
            "answered %d %s items (%d failed) in %.3fs",
            len(results),
            self._kind,
            failed,
            time.monotonic() - started,
        )
        answer = PluginResponse(data=results)
        if failed == len(results):
            answer = PluginResponse(code=EnvelopeCode.ERROR, message=_all_failed(results), data=results)
        return web.Response(body=_encoder.encode(answer), content_type="application/json")

    async def _answer_all(self, datas: Sequence[_RequestItem]) -> list[ItemResult[Any]]:
        late = (
            f"no answer within the service's {self._timeout:g}s request timeout; "
            "raise it with `plugin serve --timeout SECONDS` (create_app(timeout=...))"
        )
        results: list[ItemResult[Any]] = [
            ItemResult(id=d.id, code=EnvelopeCode.ERROR, message=late, objects=[]) for d in datas
        ]

        async def answer(index: int, data: _RequestItem) -> None:
            results[index] = await self._answer(data)

        # Items still running at the deadline keep the timeout answer; finished ones keep theirs.
        with anyio.move_on_after(self._timeout):
            async with anyio.create_task_group() as group:
                for index, data in enumerate(datas):
                    group.start_soon(answer, index, data)
        return results

    def _urls(self, data: _RequestItem) -> list[str]:
        """The item's URLs, main file first; raises ``_ItemError`` when the main one is missing."""
        if isinstance(data, ImageRequestItem):
            if not data.url:
                raise _ItemError(EnvelopeCode.ILLEGAL_PARAM, "the item has no `url`")
            return [data.url]
        if not data.point_cloud_url:
            raise _ItemError(EnvelopeCode.ILLEGAL_PARAM, "the item has no `pointCloudUrl`")
        config = [data.camera_config_url] if data.camera_config_url else []
        return [data.point_cloud_url, *_image_urls(data), *config]

    def _item(self, data: _RequestItem, files: list[FetchedFile]) -> Any:
        if isinstance(data, ImageRequestItem):
            return ImageItem(id=data.id, image=files[0])
        images = tuple(files[1 : 1 + len(_image_urls(data))])
        config = files[1 + len(images)] if data.camera_config_url else None
        return PointCloudItem(id=data.id, point_cloud=files[0], images=images, camera_config=config)

    async def _fetch_all(self, urls: list[str]) -> list[FetchedFile]:
        slots: list[FetchedFile | None] = [None] * len(urls)
        errors: list[FetchError] = []

        async def fetch(index: int, url: str) -> None:
            try:
                slots[index] = await self._fetcher.fetch(url)
            except FetchError as exc:
                errors.append(exc)

        try:
            async with anyio.create_task_group() as group:
                for index, url in enumerate(urls):
                    group.start_soon(fetch, index, url)
        finally:
            fetched = [f for f in slots if f is not None]
            if len(fetched) < len(urls):
                for file in fetched:
                    file.discard()
        if errors:
            raise errors[0]
        return fetched

    async def _answer(self, data: _RequestItem) -> ItemResult[Any]:
        try:
            urls = self._urls(data)
            outcome = await self._run(data, urls)
            return self._result(data.id, outcome)
        except _ItemError as exc:
            _log.warning("item %s: %s", data.id, exc.message)
            return ItemResult(id=data.id, code=exc.code, message=exc.message, objects=[])
        except FetchError as exc:
            _log.warning("item %s: %s", data.id, exc)
            return ItemResult(id=data.id, code=EnvelopeCode.ERROR, message=str(exc), objects=[])
        except Exception as exc:
            _log.warning("item %s: the prediction raised", data.id, exc_info=True)
            message = f"the prediction raised {type(exc).__name__}: {exc}"
            return ItemResult(id=data.id, code=EnvelopeCode.ERROR, message=message, objects=[])

    async def _run(self, data: _RequestItem, urls: list[str]) -> Any:
        """Fetch and predict inside one concurrency slot.

        A sync prediction keeps its slot (and its files) until its thread
        returns, even when the request gave up on it: the limit counts running
        model calls, and a thread cannot be cancelled.
        """
        await self._slots.acquire()
        handed_to_thread = False
        files: list[FetchedFile] = []
        try:
            files = await self._fetch_all(urls)
            item = self._item(data, files)
            if self._is_async:
                return await self._predict(item)
            call = functools.partial(contextvars.copy_context().run, self._predict, item)
            future = asyncio.get_running_loop().run_in_executor(self._threads, call)
            handed_to_thread = True
            future.add_done_callback(functools.partial(self._thread_done, files))
            # shield: a deadline abandons the thread's answer, it does not pretend to stop the thread.
            return await asyncio.shield(future)
        finally:
            if not handed_to_thread:
                for file in files:
                    file.discard()
                self._slots.release()

    def _thread_done(self, files: list[FetchedFile], future: asyncio.Future[Any]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: an abandoned thread's error was already reported as a timeout
        for file in files:
            file.discard()
        self._slots.release()

    def _result(self, item_id: int | str, outcome: object) -> ItemResult[Any]:
        confidence: float | None = None
        if isinstance(outcome, Prediction):
            objects, confidence = outcome.objects, outcome.confidence
        elif isinstance(outcome, (list, tuple)):
            objects = outcome
        else:
            raise _ItemError(
                EnvelopeCode.ERROR,
                f"the prediction returned {type(outcome).__name__}; "
                f"expected a list of {self._box.__name__} or a Prediction",
            )
        if confidence is not None:
            confidence = float(confidence)
            if not math.isfinite(confidence):
                raise _ItemError(EnvelopeCode.ERROR, "Prediction.confidence must be a finite number")
        boxes = [_clean_box(obj, self._box) for obj in objects]
        return ItemResult(id=item_id, code=EnvelopeCode.OK, message="", objects=boxes, confidence=confidence)


def _envelope_errors(path: str) -> Middleware:
    """aiohttp's own refusals (404, 405, 413) get the envelope too, naming the path the service answers.

    BasicAI POSTs to the exact URL registered for the model, so a 404 is a URL
    registered with a different path than ``--path``: say which one is served.
    """

    @web.middleware
    async def envelope_errors(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPError as exc:
            if exc.status == 404:
                why = (
                    f"Not Found: nothing is served at {request.path}; this service answers POST {path} "
                    "(the model's URL registered in BasicAI must use that path; see `plugin serve --path`)"
                )
            else:
                why = f"{exc.reason}: POST a detection request to {path}"
            return _refusal(exc.status, EnvelopeCode.ERROR, why)

    return envelope_errors


@overload
def create_app(
    predict: ImagePredictor,
    *,
    kind: Literal["image"] = ...,
    secret: str | None = ...,
    concurrency: int = ...,
    timeout: float = ...,
    max_size: int = ...,
    memory_threshold: int = ...,
    allow_private: bool = ...,
    path: str = ...,
) -> web.Application: ...
@overload
def create_app(
    predict: PointCloudPredictor,
    *,
    kind: Literal["pointcloud"],
    secret: str | None = ...,
    concurrency: int = ...,
    timeout: float = ...,
    max_size: int = ...,
    memory_threshold: int = ...,
    allow_private: bool = ...,
    path: str = ...,
) -> web.Application: ...
def create_app(
    predict: Callable[[Any], Any],
    *,
    kind: Kind = "image",
    secret: str | None = None,
    concurrency: int = 4,
    timeout: float = 60.0,
    max_size: int = DEFAULT_MAX_SIZE,
    memory_threshold: int = DEFAULT_MEMORY_THRESHOLD,
    allow_private: bool = False,
    path: str = "/",
) -> web.Application:
    """An ``aiohttp.web`` application answering BasicAI's Plugin API requests with ``predict``.

    ``predict`` takes an ``ImageItem`` (or a ``PointCloudItem`` for
    ``kind="pointcloud"``) and returns a list of ``Box2D`` (``Box3D``) or a
    ``Prediction``; a sync function runs in a worker thread. At most
    ``concurrency`` items are fetched and predicted at once, across requests.
    Items unanswered ``timeout`` seconds after a request arrived get a per-item
    error (BasicAI's caller has no deadline of its own: this is the only one).
    When every item of a request failed, the envelope's code is ``"ERROR"`` too.

    With ``secret``, requests must carry ``Authorization: Bearer <secret>``.
    BasicAI's platform sends no such header: use it for a service called by
    other clients, or behind a proxy that adds the header.

    Referenced files are fetched from public addresses only unless
    ``allow_private`` (see ``Fetcher``), and are at most ``max_size`` bytes. A
    self-hosted platform's file URLs point at its own object store (loopback or
    a LAN address) and need ``allow_private=True``.

    The service answers POST requests at ``path`` only (BasicAI POSTs to the
    exact URL registered for the model); anything else is a 404 naming it.

    Example::

        async def predict(item: ImageItem) -> list[Box2D]:
            return [Box2D(label="car", confidence=0.9, left_top_x=0, left_top_y=0,
                          right_bottom_x=10, right_bottom_y=10)]

        web.run_app(create_app(predict), port=8000)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not callable(predict):
        raise TypeError(f"predict must be callable, not {type(predict).__name__}")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', not {path!r}")
    fetcher = Fetcher(max_size=max_size, memory_threshold=memory_threshold, allow_private=allow_private)
    service = _Service(
        predict, kind=kind, secret=secret, concurrency=concurrency, timeout=timeout, fetcher=fetcher
    )
    # A request lists URLs, not files: 16 MiB is far more than any real one needs.
    app = web.Application(middlewares=[_envelope_errors(path)], client_max_size=16 * 1024 * 1024)
    app.router.add_post(path, service.handle)

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        yield
        await service.close()

    app.cleanup_ctx.append(lifetime)
    return app


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` on ``host:port`` (0 = a free port) while the block runs; yields its base URL.

    Example::

        async with serve_app(create_app(predict)) as url:
            ...  # POST to url
    """
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound}/"
    finally:
        await runner.cleanup()
