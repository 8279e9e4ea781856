"""Serve your own model to BasicAI (the Plugin API), and try it locally first.

BasicAI's Model Center calls a team's model service with ``POST {"datas":
[...]}`` and expects boxes back. ``create_app`` turns a prediction function into
that service (an ``aiohttp.web`` application)::

    from aiohttp import web
    from basicai_async.plugin import Box2D, ImageItem, create_app

    async def predict(item: ImageItem) -> list[Box2D]:
        data = item.image.read_bytes()  # or item.image.path for a large file
        return [Box2D(label="car", confidence=0.9, left_top_x=10, left_top_y=20,
                      right_bottom_x=110, right_bottom_y=80)]

    web.run_app(create_app(predict), port=8000)

or from the command line: ``basicai-async plugin serve mymodel:predict``, then
``basicai-async plugin try http://127.0.0.1:8000/ img1.jpg img2.jpg``.

The public names live here (``basicai_async.plugin``), not in the top-level
package: a service needs none of the API client, and the client none of this.
"""

from .._errors import FetchError, PluginError
from ._app import (
    KINDS,
    ImageItem,
    ImagePredictor,
    Kind,
    PointCloudItem,
    PointCloudPredictor,
    Prediction,
    create_app,
    serve_app,
)
from ._contract import ContractReport, check_answer
from ._fetch import DEFAULT_MAX_SIZE, DEFAULT_MEMORY_THRESHOLD, FetchedFile, Fetcher
from ._loader import load_function
from ._models import (
    Box2D,
    Box3D,
    ImageRequest,
    ImageRequestItem,
    ItemResult,
    PluginResponse,
    PointCloudRequest,
    PointCloudRequestItem,
)
from ._try import build_request, try_plugin

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DEFAULT_MEMORY_THRESHOLD",
    "KINDS",
    "Box2D",
    "Box3D",
    "ContractReport",
    "FetchError",
    "FetchedFile",
    "Fetcher",
    "ImageItem",
    "ImagePredictor",
    "ImageRequest",
    "ImageRequestItem",
    "ItemResult",
    "Kind",
    "PluginError",
    "PluginResponse",
    "PointCloudItem",
    "PointCloudPredictor",
    "PointCloudRequest",
    "PointCloudRequestItem",
    "Prediction",
    "build_request",
    "check_answer",
    "create_app",
    "load_function",
    "serve_app",
    "try_plugin",
]
