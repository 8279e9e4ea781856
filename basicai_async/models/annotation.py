"""Annotation sources and results."""

from __future__ import annotations

from typing import Any

import msgspec

from ._base import Model

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
    type: str
    name: str | None = None


class Instance(Model):
    """One annotated object. ``contour`` keeps the geometry as the server sends it."""

    id: str | int
    type: str | None = None
    track_id: str | None = None
    track_name: str | None = None
    class_id: int | None = None
    class_name: str | None = None
    class_values: list[Any] = msgspec.field(default_factory=list)
    contour: dict[str, Any] | None = None


class AnnotationResult(Model):
    """The results of one data item from one source."""

    data_id: int
    source_id: int | None = None
    source_type: str | None = None
    source_name: str | None = None
    version: int | None = None
    validity: str | None = None
    classification_values: list[Any] = msgspec.field(default_factory=list)
    instances: list[Instance] = msgspec.field(default_factory=list)
