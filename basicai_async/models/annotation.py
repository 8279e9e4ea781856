"""Annotation sources and results.

Results come in two forms (API.md, "Variants"): objects under ``instances`` or
under ``objects``, ``version`` a number or a string, ``classId`` a number or a
string, lists written out as ``null``, ``classValues`` as ``{}``. Both decode to
the same values: objects are always on :attr:`AnnotationResult.instances`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._base import Model, NullList, as_list

__all__ = ["AnnotationResult", "AnnotationSource", "Instance", "SourceType"]


class SourceType:
    """Known annotation source types (the field stays an open ``str``)."""

    DATA_FLOW = "DATA_FLOW"
    TASK = "TASK"
    MODEL = "MODEL"
    EXTERNAL_GROUND_TRUTH = "EXTERNAL_GROUND_TRUTH"
    EXTERNAL_MODEL = "EXTERNAL_MODEL"


class AnnotationSource(Model):
    """Where annotation results come from (a task, a model, an import, ...)."""

    id: int
    type: str | None = None
    name: str | None = None


# Instance fields a `classAttributes` object may carry, by its wire name.
_NESTED_FIELDS = (
    ("type", "type"),
    ("track_id", "trackId"),
    ("track_name", "trackName"),
    ("class_id", "classId"),
    ("class_name", "className"),
    ("contour", "contour"),
    ("model_confidence", "modelConfidence"),
    ("model_class", "modelClass"),
)


class Instance(Model):
    """One annotated object. ``contour`` keeps the geometry as the server sends it (any JSON).

    ``class_id`` is a number or a string (editors store class ids as strings);
    ``class_values`` is a list, or a dict when the server sends a non-empty
    object (``null`` and ``{}`` read as ``[]``); ``model_confidence`` and
    ``model_class`` come with results of a model source. An object whose fields
    sit under ``classAttributes`` (the platform's annotation listing) reads the
    same as one that has them at its top. An older pre-annotation shape (Xtreme1
    issue 85) puts a 3D box's ``center3D``, ``size3D`` and ``rotation3D`` on the
    object itself with ``objType: "3d"`` and its class as ``classType``: those
    are kept too. :func:`basicai_async.geometry.shape_of` reads any of these as
    a typed shape.
    """

    id: str | int | None = None
    type: str | None = None
    track_id: str | None = None
    track_name: str | None = None
    class_id: int | str | None = None
    class_name: str | None = None
    class_values: NullList[Any] | dict[str, Any] = msgspec.field(default_factory=list)
    contour: Any = None
    model_confidence: float | None = None
    model_class: str | None = None
    obj_type: str | None = None
    class_type: str | None = None
    center3d: dict[str, Any] | None = msgspec.field(default=None, name="center3D")
    size3d: dict[str, Any] | None = msgspec.field(default=None, name="size3D")
    rotation3d: dict[str, Any] | None = msgspec.field(default=None, name="rotation3D")
    # The platform's annotation listing nests the object under `classAttributes`: folded in on decode.
    _class_attributes: dict[str, Any] | None = msgspec.field(default=None, name="classAttributes")

    def __post_init__(self) -> None:
        if self._class_attributes is not None:
            self._fold(self._class_attributes)
            self._class_attributes = None
        if not self.class_values:
            self.class_values = []

    def _fold(self, nested: dict[str, Any]) -> None:
        """Fill what the outer object left empty from its ``classAttributes`` (the object as edited).

        The nested ``id`` (the object's own, as export writes it) wins over the
        outer one (a database row's).
        """
        if nested.get("id") is not None:
            self.id = nested["id"]
        for field, key in _NESTED_FIELDS:
            if getattr(self, field) is None and nested.get(key) is not None:
                setattr(self, field, nested[key])
        if not self.class_values and nested.get("classValues"):
            self.class_values = nested["classValues"]


class AnnotationResult(Model):
    """The results of one data item from one source.

    ``instances`` holds the objects whichever key the server used (``instances``
    or ``objects``); ``version`` is a number or a string such as ``"1.0"``.
    ``data_id`` is the one field required: a result must say whose it is.
    """

    data_id: int
    source_id: int | None = None
    source_type: str | None = None
    source_name: str | None = None
    version: int | float | str | None = None
    validity: str | None = None
    classification_values: NullList[Any] = msgspec.field(default_factory=list)
    instances: NullList[Instance] = msgspec.field(default_factory=list)
    # The other spelling of `instances`: folded into it on decode, so it never reaches users.
    _objects: list[Instance] | None = msgspec.field(default=None, name="objects")

    def __post_init__(self) -> None:
        self.classification_values = as_list(self.classification_values)
        instances = as_list(self.instances)
        if self._objects:
            # Both keys at once is not in the evidence; keep every object rather than guess.
            if instances and instances != self._objects:
                instances = instances + self._objects
            elif not instances:
                instances = self._objects
            self._objects = None
        self.instances = instances
