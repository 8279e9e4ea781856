"""The base of every model: camelCase on the wire, keyword-only, tolerant of new fields."""

from __future__ import annotations

import msgspec

__all__ = ["Model", "RequestModel"]


class Model(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True, gc=False):
    """A response shape. Unknown fields are ignored and optional ones default to
    ``None``, so a model keeps decoding when the server adds fields.

    ``gc=False``: a page decodes into hundreds of these, and keeping them out of
    the cycle collector's sight makes decoding about a fifth faster. They are
    plain records; only code that puts a model inside its own lists could make a
    cycle the collector would then miss.
    """


class RequestModel(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """A request body. Fields left at ``None`` are not sent (partial updates rely on it)."""
