"""The base of every model: camelCase on the wire, keyword-only, tolerant of new fields.

Tolerance rule (API.md): a response model requires only what the SDK cannot work
without (an item's ``id``); everything else is optional and nullable. A list the
server writes as ``null`` reads as ``[]``: such fields are declared
``NullList[X]``, which the decoder sees as ``list[X] | None`` and type checkers
as ``list[X]``; the model's ``__post_init__`` (which msgspec runs after every
decode and construction) turns ``None`` into ``[]`` with :func:`as_list`, so the
type checkers' view is the truth by the time anyone reads the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, TypeVar

import msgspec

from .._redact import redact_text

__all__ = ["Model", "NullList", "RequestModel", "as_list"]

T = TypeVar("T")

if TYPE_CHECKING:
    NullList = list
else:

    class NullList:
        """``NullList[X]`` is ``list[X] | None`` for the decoder (see the module docstring)."""

        def __class_getitem__(cls, item: Any) -> Any:
            return Optional[list[item]]  # noqa: UP045 - a runtime object, not an annotation


def as_list(value: list[T] | None) -> list[T]:
    """``value``, or a new empty list when it is ``None``."""
    return [] if value is None else value


class Model(
    msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True, repr_omit_defaults=True, gc=False
):
    """A response shape. Unknown fields are ignored and optional ones default to
    ``None``, so a model keeps decoding when the server adds fields.

    ``gc=False``: a page decodes into hundreds of these, and keeping them out of
    the cycle collector's sight makes decoding about a fifth faster. They are
    plain records; only code that puts a model inside its own lists could make a
    cycle the collector would then miss. ``repr`` leaves out fields at their
    default, so a tolerant model with a dozen absent fields still reads well.
    A repr never shows a signature: a file's ``url`` is often a signed GET URL,
    and a signed URL is a credential, so its signing parameters are redacted.
    """

    def __repr__(self) -> str:
        return redact_text(super().__repr__())

    @classmethod
    def settle_many(cls, records: list[Any]) -> None:
        """Settle the tolerant shapes of many decoded records of this class in one pass.

        The list containers (``Page``, ``IdPage``) call it once per page after
        decoding. A model that appears by the hundred on a page (``Item``) reads
        its variants here instead of in a ``__post_init__``: one hook call per
        record costs more than the decode of its fields, while this pass only
        looks at each record and works where a variant appears. Others settle in
        their own ``__post_init__`` and need nothing here.
        """


class RequestModel(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """A request body. Fields left at ``None`` are not sent (partial updates rely on it)."""
