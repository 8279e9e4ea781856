"""Items: one level of a dataset's tree (data, scenes or batches) as listItem returns them.

The kind comes as ``itemType: DATA|SCENE|BATCH`` or, in the Xtreme1 form, as
``type: SINGLE_DATA|SCENE``; :attr:`Item.is_data` and friends answer for both,
and ``item_type`` is filled in from ``type`` so either spelling reads the same.
A data entry's files come as a flat ``files`` list or a ``content`` tree, as a
data item's do (:func:`~basicai_async.models.data.files_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from ._base import Model, NullList
from .data import ContentNode, DataFile, files_of, settle_file, settle_files

__all__ = ["Item", "ItemType"]


class ItemType:
    """Known ``itemType`` values (the field stays an open ``str``)."""

    DATA = "DATA"
    SCENE = "SCENE"
    BATCH = "BATCH"


# Every known spelling of a kind, in either field, to the ItemType value.
_KINDS = {
    "DATA": ItemType.DATA,
    "SINGLE_DATA": ItemType.DATA,
    "SCENE": ItemType.SCENE,
    "BATCH": ItemType.BATCH,
}
_CANONICAL = frozenset({ItemType.DATA, ItemType.SCENE, ItemType.BATCH})


class Item(Model):
    """An entry of ``/dataset/listItem``: :attr:`is_data`, :attr:`is_scene`, :attr:`is_batch` say its kind.

    The kind is the one thing besides ``id`` the SDK needs (exports and resumed
    uploads walk the tree by it): an entry with neither ``itemType`` nor
    ``type`` fails to decode rather than being taken for a container. Items are
    read in pages (``Page[Item]``, ``IdPage[Item]``), which settle their
    variants in one pass (:meth:`settle_many`); an ``Item`` decoded on its own
    keeps the fields as sent.
    """

    id: int
    name: str | None = None
    item_type: str | None = None
    type: str | None = None
    parent_id: int | None = None
    files: NullList[DataFile] = msgspec.field(default_factory=list)
    created_at: datetime | None = None
    # The platform's tree of folders: folded into `files` on decode, so it never reaches users.
    _content: list[ContentNode] | None = msgspec.field(default=None, name="content")

    @classmethod
    def settle_many(cls, records: list[Any]) -> None:
        """Settle a page of items: kinds from either field, files from a list or a tree.

        One pass instead of a hook per item (a listing's hot path): an item in the
        guide's form (a known ``itemType``, a ``files`` list, no tree) costs a look.
        """
        canonical, settle = _CANONICAL, settle_file  # locals: looked up once per page, not per item
        for item in records:
            files = item.files
            if item._content is not None or files is None or item.item_type not in canonical:
                item._settle(records)
                continue
            for file in files:
                if file.mime_type is None or file.extra_info is not None:
                    settle(file)

    def _settle(self, page: list[Any]) -> None:
        if self._content is not None:
            self.files = files_of(self.files, self._content)
            self._content = None
        elif self.files is None:
            self.files = []  # type: ignore[unreachable]  # NullList: None until this line
        settle_files(self.files)
        if self.item_type in _CANONICAL:
            return
        kind = _KINDS.get(self.item_type or "") or _KINDS.get(self.type or "")
        if kind is not None:
            self.item_type = kind
        elif self.item_type is None:
            if self.type is None:
                index = next(i for i, one in enumerate(page) if one is self)
                raise ValueError(
                    f"the item at `list[{index}]` has neither `itemType` nor `type`: its kind is unknown"
                )
            self.item_type = self.type

    @property
    def is_data(self) -> bool:
        """True for a data item (``itemType: DATA`` or ``type: SINGLE_DATA``)."""
        return self.item_type == ItemType.DATA

    @property
    def is_scene(self) -> bool:
        """True for a scene."""
        return self.item_type == ItemType.SCENE

    @property
    def is_batch(self) -> bool:
        """True for a batch."""
        return self.item_type == ItemType.BATCH
