"""One module per API noun; each class is hung on ``AsyncBasicAI`` as an attribute."""

from .annotations import Annotations
from .batches import Batches
from .data import Data
from .datasets import Datasets
from .items import Items
from .scenes import Scenes
from .storage import Storage

__all__ = ["Annotations", "Batches", "Data", "Datasets", "Items", "Scenes", "Storage"]
