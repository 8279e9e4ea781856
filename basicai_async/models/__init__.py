"""Typed models of the BasicAI API: msgspec Structs, camelCase on the wire, tolerant of its variants."""

from .annotation import AnnotationResult, AnnotationSource, Instance, SourceType
from .data import DataFile, DataItem, FileRef, NewData
from .dataset import Dataset, DatasetType, DatasetUpdate, NewDataset
from .envelope import Envelope, IdPage, Page
from .item import Item, ItemType
from .scene import Batch, NewBatch, NewScene, Scene
from .storage import PresignedUpload, PresignRequest

__all__ = [
    "AnnotationResult",
    "AnnotationSource",
    "Batch",
    "DataFile",
    "DataItem",
    "Dataset",
    "DatasetType",
    "DatasetUpdate",
    "Envelope",
    "FileRef",
    "IdPage",
    "Instance",
    "Item",
    "ItemType",
    "NewBatch",
    "NewData",
    "NewDataset",
    "NewScene",
    "Page",
    "PresignRequest",
    "PresignedUpload",
    "Scene",
    "SourceType",
]
