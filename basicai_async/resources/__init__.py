"""One module per API noun; each class is hung on ``AsyncBasicAI`` as an attribute."""

from .datasets import Datasets

__all__ = ["Datasets"]
