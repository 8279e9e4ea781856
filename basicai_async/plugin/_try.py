"""``plugin try``: send a model service the request BasicAI would send, for local files.

The files are served from a throw-away HTTP server on loopback, under a random
path prefix, for as long as the request takes. The service must therefore be
allowed to fetch from loopback (``plugin serve --allow-private``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec
from aiohttp import web

from .._errors import PluginError
from .._redact import chain_scrubbed, redact_url
from ._app import Kind, serve_app
from ._contract import ContractReport, check_answer
from ._fetch import describe_failure

__all__ = ["build_request", "try_plugin"]


def _file_server(files: Sequence[Path], prefix: str) -> tuple[web.Application, list[str]]:
    """An app serving exactly ``files`` (nothing else) and their paths on it."""

    async def send(request: web.Request) -> web.FileResponse:
        index = request.match_info["index"]
        if not index.isdigit() or int(index) >= len(files):
            raise web.HTTPNotFound()
        return web.FileResponse(files[int(index)])

    app = web.Application()
    # The name is decoration (models often look at the extension); the index picks the file.
    app.router.add_get(f"/{prefix}/{{index}}/{{name}}", send)
    return app, [f"/{prefix}/{index}/{quote(file.name)}" for index, file in enumerate(files)]


def build_request(
    kind: Kind,
    urls: Sequence[str],
    *,
    image_urls: Sequence[str] = (),
    camera_config_url: str | None = None,
) -> dict[str, Any]:
    """The body BasicAI sends for ``urls`` (one item each, ids 1, 2, ...)."""
    if kind == "image":
        return {"datas": [{"id": i, "url": url} for i, url in enumerate(urls, 1)]}
    return {
        "datas": [
            {
                "id": i,
                "pointCloudUrl": url,
                "imageUrls": list(image_urls),
                "cameraConfigUrl": camera_config_url,
            }
            for i, url in enumerate(urls, 1)
        ]
    }


async def try_plugin(
    url: str,
    files: Sequence[Path],
    *,
    kind: Kind = "image",
    images: Sequence[Path] = (),
    camera_config: Path | None = None,
    secret: str | None = None,
    timeout: float = 120.0,  # noqa: ASYNC109 (one deadline for the whole exchange, handed to aiohttp)
    class_codes: Sequence[str] | None = None,
) -> ContractReport:
    """POST the request BasicAI would send for ``files`` to ``url``; check the answer against the contract.

    For ``kind="image"`` each file is one item; for ``"pointcloud"`` each file
    is one item's point cloud, and ``images`` and ``camera_config`` go with
    every item. ``class_codes``, the model's class codes as set in the
    platform, are checked against the answer's labels (see ``check_answer``).
    Raises ``PluginError`` when a file is missing or ``url`` cannot be reached.
    """
    everything = [*files, *images, *([camera_config] if camera_config else [])]
    if not files:
        raise PluginError("give at least one file to send")
    for file in everything:
        if not file.is_file():
            raise PluginError(f"{file} is not a file")
    prefix = secrets.token_urlsafe(12)
    app, paths = _file_server(everything, prefix)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    async with serve_app(app, "127.0.0.1", 0) as base:
        served = [base.rstrip("/") + path for path in paths]
        first_image = len(files)
        body = build_request(
            kind,
            served[:first_image],
            image_urls=served[first_image : first_image + len(images)],
            camera_config_url=served[-1] if camera_config else None,
        )
        failure: PluginError | None = None
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.post(url, data=msgspec.json.encode(body), headers=headers) as resp,
            ):
                status, answer = resp.status, await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            # aiohttp's exceptions carry the request's headers (the Bearer secret): chain a scrubbed copy.
            failure = chain_scrubbed(
                PluginError(f"cannot reach {redact_url(url)}: {describe_failure(exc)}"),
                exc,
                secrets=(secret,) if secret else (),
            )
    if failure is not None:
        # Raised outside the except block, so aiohttp's original is not chained as the context.
        raise failure
    sent_ids = [d["id"] for d in body["datas"]]
    return check_answer(status, answer, kind=kind, sent_ids=sent_ids, class_codes=class_codes)
