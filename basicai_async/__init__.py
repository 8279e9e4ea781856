"""basicai_async: the asyncio Python SDK for BasicAI's OpenAPI.

Example::

    import asyncio
    from basicai_async import AsyncBasicAI

    async def main() -> None:
        async with AsyncBasicAI() as client:  # key from BASICAI_API_KEY
            async for dataset in client.datasets.list():
                print(dataset.id, dataset.name)

    asyncio.run(main())
"""

from ._client import DEFAULT_BASE_URL, AsyncBasicAI
from ._cloud import object_sources, url_sources
from ._constants import MAX_PRESIGNED_SIZE
from ._errors import (
    APIConnectionError,
    APIDecodeError,
    APIError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    BasicAIError,
    ConfigurationError,
    FileFormatNotSupportedError,
    FileTooLargeError,
    GatewayTimeoutError,
    GenericAPIError,
    IllegalFormatError,
    IllegalParamError,
    InternalServerError,
    InvalidSourceError,
    LicenseExpiredError,
    LimiterUnavailableError,
    ManifestMismatchError,
    MethodNotAllowedError,
    NameDuplicatedError,
    NotFoundError,
    ObjectStoreError,
    OperationFailedError,
    PermissionDeniedError,
    QuotaExhaustedError,
    RateLimitError,
    ResourceDuplicatedError,
    ResourceNotFoundError,
    ServerError,
    ServiceUnavailableError,
    SourceChangedError,
    UnknownCodeError,
    UploadError,
)
from ._http import is_ambiguous
from ._manifest import Manifest, ManifestEntry, ManifestStatus, ManifestTarget
from ._redact import RedactedException
from ._retry import RetryPolicy
from ._shard import Shard, shard_of
from ._sources import UploadSource
from .export import ExportSummary, export_results, iter_data_ids, iter_results
from .models import (
    AnnotationResult,
    AnnotationSource,
    Batch,
    DataFile,
    DataItem,
    Dataset,
    DatasetType,
    DatasetUpdate,
    FileRef,
    Instance,
    Item,
    ItemType,
    NewBatch,
    NewData,
    NewDataset,
    NewScene,
    PresignedUpload,
    PresignRequest,
    Scene,
    SourceType,
)
from .pagination import AsyncIdPager, AsyncPager
from .ratelimit import (
    BASICAI_LIMITS,
    ExactLimiter,
    Limiter,
    LimiterStats,
    Limits,
    PacedLimiter,
    RedisLimiter,
    Window,
)
from .uploader import Uploader, UploadProgress, UploadReport, UploadResult

__version__ = "0.1.0"

__all__ = [
    "BASICAI_LIMITS",
    "DEFAULT_BASE_URL",
    "MAX_PRESIGNED_SIZE",
    "APIConnectionError",
    "APIDecodeError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AnnotationResult",
    "AnnotationSource",
    "AsyncIdPager",
    "AsyncPager",
    "AsyncBasicAI",
    "AuthenticationError",
    "BadGatewayError",
    "BadRequestError",
    "BasicAIError",
    "Batch",
    "ConfigurationError",
    "DataFile",
    "DataItem",
    "Dataset",
    "DatasetType",
    "DatasetUpdate",
    "ExactLimiter",
    "ExportSummary",
    "FileFormatNotSupportedError",
    "FileRef",
    "FileTooLargeError",
    "GatewayTimeoutError",
    "GenericAPIError",
    "IllegalFormatError",
    "IllegalParamError",
    "Instance",
    "InternalServerError",
    "InvalidSourceError",
    "Item",
    "ItemType",
    "LicenseExpiredError",
    "LimiterUnavailableError",
    "Limiter",
    "LimiterStats",
    "Limits",
    "Manifest",
    "ManifestEntry",
    "ManifestMismatchError",
    "ManifestStatus",
    "ManifestTarget",
    "MethodNotAllowedError",
    "NameDuplicatedError",
    "NewBatch",
    "NewData",
    "NewDataset",
    "NewScene",
    "NotFoundError",
    "ObjectStoreError",
    "OperationFailedError",
    "PacedLimiter",
    "PermissionDeniedError",
    "PresignRequest",
    "PresignedUpload",
    "QuotaExhaustedError",
    "RateLimitError",
    "RedactedException",
    "RedisLimiter",
    "ResourceDuplicatedError",
    "ResourceNotFoundError",
    "RetryPolicy",
    "Scene",
    "ServerError",
    "ServiceUnavailableError",
    "Shard",
    "SourceChangedError",
    "SourceType",
    "UnknownCodeError",
    "UploadError",
    "UploadProgress",
    "UploadReport",
    "UploadResult",
    "UploadSource",
    "Uploader",
    "Window",
    "__version__",
    "export_results",
    "is_ambiguous",
    "iter_data_ids",
    "iter_results",
    "object_sources",
    "shard_of",
    "url_sources",
]
