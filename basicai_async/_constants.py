"""BasicAI's published limits and wire constants, written once.

The SDK, its argument checks and the emulator all import these, so a limit
changes in one place. ``[doc]`` marks what BasicAI's guide states; ``[inferred]``
what the SDK assumes where the guide is silent (see the project's API notes).
"""

from __future__ import annotations

__all__ = [
    "BODY_SNIPPET",
    "DATASET_TYPES",
    "DEFAULT_PAGE_SIZE",
    "MAX_BATCH_ITEMS",
    "MAX_IDS",
    "MAX_PAGE_SIZE",
    "MAX_PRESIGNED_SIZE",
    "RATE_WINDOWS",
    "EnvelopeCode",
    "PlatformCode",
]

MAX_IDS = 100
"""[doc] At most this many ids in one query parameter (``?dataIds=1,2,3``)."""

MAX_BATCH_ITEMS = 100
"""[inferred] At most this many elements in one batch body (``batchAddData``, pre-sign)."""

MAX_PAGE_SIZE = 100
"""[doc] ``pageSize`` and ``limit`` range over 1..100."""

DEFAULT_PAGE_SIZE = 10
"""[doc] ``pageSize`` and ``limit`` when a call does not send them."""

MAX_PRESIGNED_SIZE = 1024**3
"""[doc] Pre-signed upload URLs take files of at most 1 GB; larger ones need STS (not released)."""

RATE_WINDOWS: tuple[tuple[int, float], ...] = ((100, 1.0), (3000, 60.0), (72000, 3600.0), (864000, 86400.0))
"""[doc] Per API key, all calls together: (limit, window seconds) for 1 s, 1 min, 1 h, 1 day."""

DATASET_TYPES = ("IMAGE", "LIDAR_BASIC", "LIDAR_FUSION", "AV", "TEXT")
"""[inferred] The dataset types known today; the field stays an open string."""

BODY_SNIPPET = 500
"""How many bytes of an unexpected answer an error keeps, for humans (not a wire fact)."""


class EnvelopeCode:
    """[doc] The envelope codes of BasicAI's guide. ``OK`` (any case) is success."""

    OK = "OK"
    ERROR = "ERROR"
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
    RESOURCE_DUPLICATED = "RESOURCE_DUPLICATED"
    NAME_DUPLICATED = "NAME_DUPLICATED"
    ILLEGAL_PARAM = "ILLEGAL_PARAM"
    ILLEGAL_FORMAT = "ILLEGAL_FORMAT"
    FILE_FORMAT_NOT_SUPPORTED = "FILE_FORMAT_NOT_SUPPORTED"
    OPERATION_FAILED = "OPERATION_FAILED"
    LICENSE_EXPIRED = "LICENSE_EXPIRED"


class PlatformCode:
    """[evidence] Envelope codes BasicAI's open-source platform writes (its ``UsecaseCode`` enum).

    Seen in answers its own classes produced (``shared/evidence/xtreme1-jackson``).
    The SDK types them by meaning, as the guide's codes (``_errors.error_for_code``).
    """

    NOT_FOUND = "NOT_FOUND"
    DATASET_NOT_FOUND = "DATASET_NOT_FOUND"
    DATA_NOT_FOUND = "DATA_NOT_FOUND"
    DATASET__NOT_EXIST = "DATASET__NOT_EXIST"
    DUPLICATED = "DUPLICATED"
    NAME_DUPLICATED = "NAME_DUPLICATED"
    DATASET_NAME_DUPLICATED = "DATASET_NAME_DUPLICATED"
    PARAM_ERROR = "PARAM_ERROR"
    DATASET_DATA_FILE_URL_ERROR = "DATASET_DATA_FILE_URL_ERROR"
    DATASET_DATA_FILE_URL_ILLEGAL = "DATASET_DATA_FILE_URL_ILLEGAL"
    FILE_TYPE_NOT_SUPPORT = "FILE_TYPE_NOT_SUPPORT"
    DATASET_DATA_FILE_FORMAT_ERROR = "DATASET_DATA_FILE_FORMAT_ERROR"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"
