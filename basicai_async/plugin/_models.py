"""The Plugin API on the wire: what BasicAI sends a model service, and what it expects back.

Requests are decoded tolerantly (unknown fields ignored, optional fields
nullable, a ``null`` list read as empty); answers are encoded strictly, in
exactly the shape BasicAI's platform checks: ``{"code": "OK", "message", "data":
[{"id", "code": "OK", "message", "confidence"?, "objects": [...]}]}``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from .._constants import EnvelopeCode

__all__ = [
    "Box2D",
    "Box3D",
    "ImageRequest",
    "ImageRequestItem",
    "ItemResult",
    "PluginResponse",
    "PointCloudRequest",
    "PointCloudRequestItem",
]

ItemId = int | str
"""BasicAI sends numeric ids; a string id is echoed back as it came."""


class ImageRequestItem(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """One image to detect objects in."""

    id: ItemId
    url: str | None = None


class PointCloudRequestItem(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """One point-cloud frame, with its camera images and calibration when it has them."""

    id: ItemId
    point_cloud_url: str | None = None
    image_urls: list[str | None] | None = None
    camera_config_url: str | None = None


class ImageRequest(msgspec.Struct, kw_only=True, gc=False):
    """``{"datas": [...]}`` for image detection."""

    datas: list[ImageRequestItem] | None = None


class PointCloudRequest(msgspec.Struct, kw_only=True, gc=False):
    """``{"datas": [...]}`` for point-cloud detection."""

    datas: list[PointCloudRequestItem] | None = None


class Box2D(msgspec.Struct, rename="camel", kw_only=True):
    """An axis-aligned image box in pixels, from its left-top to its right-bottom corner.

    Example::

        Box2D(label="car", confidence=0.9,
              left_top_x=10, left_top_y=20, right_bottom_x=110, right_bottom_y=80)
    """

    label: str
    confidence: float
    left_top_x: float
    left_top_y: float
    right_bottom_x: float
    right_bottom_y: float


class Box3D(msgspec.Struct, rename="camel", kw_only=True):
    """A 3D box: centre ``x, y, z``, size ``dx, dy, dz`` and rotation in radians (usually only ``rot_z``)."""

    label: str
    confidence: float
    x: float
    y: float
    z: float
    dx: float
    dy: float
    dz: float
    rot_x: float = 0.0
    rot_y: float = 0.0
    rot_z: float = 0.0


B = TypeVar("B", Box2D, Box3D)


class ItemResult(msgspec.Struct, Generic[B], rename="camel", kw_only=True, omit_defaults=True):
    """The answer for one item: ``code`` is ``OK`` with its objects, or an error code and why."""

    id: ItemId
    code: str
    message: str
    objects: list[B]
    confidence: float | None = None


class PluginResponse(msgspec.Struct, Generic[B], kw_only=True):
    """The envelope of every answer; ``data`` is ``None`` only when the whole request was refused."""

    code: str = EnvelopeCode.OK
    message: str = ""
    data: list[ItemResult[B]] | None = None
