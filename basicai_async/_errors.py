"""The exceptions raised by basicai_async.

Every failure a user can meet is one of these; no aiohttp or msgspec exception
leaves the package (they are chained as ``__cause__``). The tree::

    BasicAIError
    ├── ConfigurationError            bad client options (no API key, bad base URL)
    ├── QuotaExhaustedError           the local limiter's next slot is beyond max_wait
    ├── ManifestMismatchError         a manifest written for another dataset/batch/scene/server
    ├── LimiterUnavailableError       the shared limiter's Redis did not answer (fail closed)
    ├── ObjectStoreError              object storage (S3, GCS, Azure, HTTP) failed a listing or a read
    ├── PluginError                   the Plugin API helper could not do what was asked
    │   └── FetchError                a file a Plugin API request points at could not be fetched
    ├── UploadError                   one file could not be uploaded or registered
    │   ├── FileTooLargeError         over the 1 GB pre-signed upload limit
    │   ├── InvalidSourceError        empty, not a regular file, unreadable, name not UTF-8
    │   └── SourceChangedError        the file grew, shrank, or (in object storage) was replaced or deleted
    └── APIError                      a call to the BasicAI API failed
        ├── APIConnectionError        no HTTP answer (refused, reset, DNS, ...)
        │   └── APITimeoutError       no answer within the client's timeout
        ├── APIDecodeError            the answer is not the expected JSON
        ├── APIStatusError            a non-200 HTTP status
        │   ├── BadRequestError           400
        │   ├── AuthenticationError       401
        │   ├── PermissionDeniedError     403
        │   ├── NotFoundError             404
        │   ├── MethodNotAllowedError     405
        │   ├── RateLimitError            429 (``retry_after``)
        │   └── ServerError               5xx
        │       ├── InternalServerError   500
        │       ├── BadGatewayError       502
        │       ├── ServiceUnavailableError 503
        │       └── GatewayTimeoutError   504
        └── APIResponseError          HTTP 200 with an envelope code other than OK
            ├── GenericAPIError           ERROR, UNKNOWN
            ├── ResourceNotFoundError     RESOURCE_NOT_FOUND, NOT_FOUND, DATASET_NOT_FOUND,
            │                             DATA_NOT_FOUND, DATASET__NOT_EXIST
            ├── ResourceDuplicatedError   RESOURCE_DUPLICATED, DUPLICATED
            ├── NameDuplicatedError       NAME_DUPLICATED, DATASET_NAME_DUPLICATED
            ├── IllegalParamError         ILLEGAL_PARAM, PARAM_ERROR,
            │                             DATASET_DATA_FILE_URL_ERROR, DATASET_DATA_FILE_URL_ILLEGAL
            ├── IllegalFormatError        ILLEGAL_FORMAT, DATASET_DATA_FILE_FORMAT_ERROR
            ├── FileFormatNotSupportedError FILE_FORMAT_NOT_SUPPORTED, FILE_TYPE_NOT_SUPPORT
            ├── OperationFailedError      OPERATION_FAILED
            ├── LicenseExpiredError       LICENSE_EXPIRED
            └── UnknownCodeError          any code this SDK does not know yet (``code`` kept)

Envelope codes are typed by meaning: the guide's names and those BasicAI's
open-source platform writes (``_constants.PlatformCode``) raise the same class,
and ``code`` always keeps the name the server sent.

Every ``APIError`` carries the HTTP ``method`` and ``path`` of the call (never
the API key) so that a log line says which call failed.
"""

from __future__ import annotations

from typing import Literal

from ._constants import EnvelopeCode, PlatformCode

__all__ = [
    "APIConnectionError",
    "APIDecodeError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadGatewayError",
    "BadRequestError",
    "BasicAIError",
    "ConfigurationError",
    "FileFormatNotSupportedError",
    "FetchError",
    "FileTooLargeError",
    "GatewayTimeoutError",
    "GenericAPIError",
    "IllegalFormatError",
    "IllegalParamError",
    "InternalServerError",
    "InvalidSourceError",
    "LicenseExpiredError",
    "ManifestMismatchError",
    "LimiterUnavailableError",
    "ObjectStoreError",
    "MethodNotAllowedError",
    "NameDuplicatedError",
    "NotFoundError",
    "OperationFailedError",
    "PermissionDeniedError",
    "PluginError",
    "QuotaExhaustedError",
    "RateLimitError",
    "ResourceDuplicatedError",
    "ResourceNotFoundError",
    "ServerError",
    "ServiceUnavailableError",
    "SourceChangedError",
    "UnknownCodeError",
    "UploadError",
    "UploadStage",
    "error_for_code",
    "error_for_status",
]


class BasicAIError(Exception):
    """Base class of every exception raised by basicai_async."""


class ConfigurationError(BasicAIError):
    """The client was given options it cannot work with (e.g. no API key)."""


class QuotaExhaustedError(BasicAIError):
    """The rate limiter cannot admit a call within ``max_wait`` seconds.

    ``retry_after`` is how many seconds from now the limiter expects its next
    free slot (for example when the daily quota is spent).
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LimiterUnavailableError(BasicAIError):
    """A shared limiter could not reach its store (Redis): nothing was admitted.

    A limiter that cannot see the shared quota fails closed instead of letting
    calls through; ``RedisLimiter(fallback_share=...)`` opts into a local limit
    instead. The cause (a redis-py error) is chained as ``__cause__``.
    """


UploadStage = Literal["validate", "presign", "put", "register", "aborted"]
"""Where an upload of one file stopped: checking it, pre-signing, the PUT, registering, or
``aborted`` (the run stopped before this file because the target was refused as a whole)."""


class ObjectStoreError(BasicAIError):
    """Object storage (S3, GCS, Azure, a plain HTTP server) refused or failed a listing or a read.

    ``url`` is where (credentials and signatures removed); ``reason`` is one of
    ``"not_found"`` (no such bucket, container or URL), ``"permission_denied"``,
    ``"unauthenticated"`` (no or wrong credentials), ``"invalid"`` (a URL or
    option the store cannot use) or ``"unavailable"`` (the store did not answer,
    or answered an error after its own retries). ``transient`` is True for the
    last: trying again later may work. The store's own error is chained only as
    a redacted ``RedactedException``: no obstore exception and no credential
    reaches the caller.
    """

    def __init__(self, message: str, *, url: str, reason: str) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason

    @property
    def transient(self) -> bool:
        """Whether trying again later may work (the store was unreachable or failing)."""
        return self.reason == "unavailable"


class UploadError(BasicAIError):
    """One file could not be uploaded or registered.

    ``stage`` (an :data:`UploadStage`) is where it failed: ``"validate"``,
    ``"presign"``, ``"put"``, ``"register"``, or ``"aborted"`` (the run stopped
    before this file because the target was refused as a whole).
    """

    def __init__(self, message: str, *, filename: str, stage: UploadStage) -> None:
        super().__init__(message)
        self.filename = filename
        self.stage = stage


class FileTooLargeError(UploadError, ValueError):
    """A file exceeds the 1 GB limit of pre-signed uploads.

    BasicAI's guide reserves larger files for its STS-token method, which is not
    released yet; split the file or wait for that method.
    """


class InvalidSourceError(UploadError, ValueError):
    """A file that cannot be uploaded as it is; it fails alone, at ``validate``.

    ``reason`` is one of ``"empty"`` (0 bytes: storage and BasicAI refuse empty
    objects), ``"not_a_file"`` (a directory, a socket, ...), ``"unreadable"`` (no
    permission, gone, an I/O error) or ``"name_not_utf8"`` (the file system's bytes
    for its name are not UTF-8, which JSON and the API cannot carry: rename it).
    """

    def __init__(self, message: str, *, filename: str, reason: str) -> None:
        super().__init__(message, filename=filename, stage="validate")
        self.reason = reason


class SourceChangedError(UploadError):
    """A file changed between listing it and uploading it; nothing of it is registered.

    ``expected`` is the size declared (and pre-signed); ``actual`` the bytes the
    file had when reading stopped: for a growing file at least ``expected + 1``,
    the reading stops there. ``how`` says what happened: ``"grew"``,
    ``"shrank"``, or for an object in object storage ``"replaced"`` (its ETag is
    no longer the listed one) or ``"deleted"`` (``actual`` is then 0: nothing was
    read). Upload it again once it no longer changes.
    """

    def __init__(
        self, message: str, *, filename: str, expected: int, actual: int, how: str = "changed"
    ) -> None:
        super().__init__(message, filename=filename, stage="put")
        self.expected = expected
        self.actual = actual
        self.how = how


class PluginError(BasicAIError):
    """The Plugin API helper could not do what was asked (load a model, reach a service, fetch a file).

    Importable from ``basicai_async.plugin`` too, where it is used.
    """


class FetchError(PluginError):
    """A referenced file could not be fetched; the message names the URL without its query."""


class ManifestMismatchError(BasicAIError):
    """A manifest is being used for another target than the one it was written for.

    Its records (what is registered, under which data id) are true only of the
    dataset, batch or scene and server it names, so it is refused rather than
    trusted. ``path`` is the manifest file, ``recorded`` the target it belongs to
    and ``requested`` the one asked for, both as text; the message says how to
    resume the recorded upload or start the new one.
    """

    def __init__(self, message: str, *, path: str, recorded: str, requested: str) -> None:
        super().__init__(message)
        self.path = path
        self.recorded = recorded
        self.requested = requested


class APIError(BasicAIError):
    """A call to the BasicAI API failed. ``method`` and ``path`` name the call."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {message}")
        self.method = method
        self.path = path


class APIConnectionError(APIError):
    """The server gave no HTTP answer (refused, reset, DNS failure, ...).

    ``sent`` is False only when the request certainly never reached the server
    (the connection could not be opened), which makes even a creating call safe
    to retry.
    """

    def __init__(self, message: str, *, method: str, path: str, sent: bool = True) -> None:
        super().__init__(message, method=method, path=path)
        self.sent = sent


class APITimeoutError(APIConnectionError):
    """No answer arrived within the client's timeout."""


class APIDecodeError(APIError):
    """The answer was not the JSON the endpoint promises (an HTML page, truncated JSON, a wrong type)."""

    def __init__(self, message: str, *, method: str, path: str, body: str = "") -> None:
        super().__init__(message, method=method, path=path)
        self.body = body


class APIStatusError(APIError):
    """The server answered with an HTTP status other than 200.

    ``status`` is the HTTP status and ``body`` the first bytes of the answer, decoded
    leniently (gateways answer with HTML).
    """

    status: int = 0

    def __init__(self, message: str, *, method: str, path: str, status: int, body: str = "") -> None:
        super().__init__(f"HTTP {status} {message}".rstrip(), method=method, path=path)
        self.status = status
        self.body = body


class BadRequestError(APIStatusError):
    """HTTP 400: the server rejected the request as malformed."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing, unknown, expired or revoked."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key's user may not touch this resource."""


class NotFoundError(APIStatusError):
    """HTTP 404: no such path (check the base URL and API version)."""


class MethodNotAllowedError(APIStatusError):
    """HTTP 405: the path exists but not for this HTTP method."""


class RateLimitError(APIStatusError):
    """HTTP 429: a rate limit was exceeded; ``retry_after`` seconds is the server's hint (or None)."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int = 429,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status=status, body=body)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """HTTP 5xx: the server or a gateway in front of it failed."""


class InternalServerError(ServerError):
    """HTTP 500."""


class BadGatewayError(ServerError):
    """HTTP 502."""


class ServiceUnavailableError(ServerError):
    """HTTP 503: restart or maintenance; the request was not processed."""


class GatewayTimeoutError(ServerError):
    """HTTP 504: the gateway gave up waiting; the server may still have acted."""


class APIResponseError(APIError):
    """HTTP 200 with an envelope ``code`` other than OK: a business error.

    ``code`` and ``server_message`` are the envelope's fields as sent.
    """

    def __init__(self, message: str, *, method: str, path: str, code: str) -> None:
        super().__init__(f"{code}: {message}" if message else code, method=method, path=path)
        self.code = code
        self.server_message = message


class GenericAPIError(APIResponseError):
    """Envelope code ERROR (the platform's UNKNOWN too): the server reports an unspecified error."""


class ResourceNotFoundError(APIResponseError):
    """An id does not exist (or is not visible to this key).

    Envelope code RESOURCE_NOT_FOUND, or the platform's NOT_FOUND, DATASET_NOT_FOUND,
    DATA_NOT_FOUND, DATASET__NOT_EXIST.
    """


class ResourceDuplicatedError(APIResponseError):
    """Envelope code RESOURCE_DUPLICATED (the platform's DUPLICATED): the thing exists already."""


class NameDuplicatedError(APIResponseError):
    """The name is already taken in this team: NAME_DUPLICATED (or DATASET_NAME_DUPLICATED)."""


class IllegalParamError(APIResponseError):
    """A parameter is missing, out of range or of a wrong type.

    Envelope code ILLEGAL_PARAM, or the platform's PARAM_ERROR and, for a file's
    URL, DATASET_DATA_FILE_URL_ERROR / DATASET_DATA_FILE_URL_ILLEGAL.
    """


class IllegalFormatError(APIResponseError):
    """A malformed file or body: ILLEGAL_FORMAT (the platform's DATASET_DATA_FILE_FORMAT_ERROR)."""


class FileFormatNotSupportedError(APIResponseError):
    """Envelope code FILE_FORMAT_NOT_SUPPORTED (the platform's FILE_TYPE_NOT_SUPPORT)."""


class OperationFailedError(APIResponseError):
    """Envelope code OPERATION_FAILED (e.g. removing a batch that is not empty)."""


class LicenseExpiredError(APIResponseError):
    """Envelope code LICENSE_EXPIRED."""


class UnknownCodeError(APIResponseError):
    """An envelope code this SDK does not know; ``code`` keeps it."""


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    429: RateLimitError,
    500: InternalServerError,
    502: BadGatewayError,
    503: ServiceUnavailableError,
    504: GatewayTimeoutError,
}

# Envelope codes by meaning: the guide's names and those of BasicAI's platform (its UsecaseCode).
# One row per meaning; a code in no row stays UnknownCodeError, with the code kept.
_CODES_BY_MEANING: tuple[tuple[type[APIResponseError], tuple[str, ...]], ...] = (
    (GenericAPIError, (EnvelopeCode.ERROR, PlatformCode.UNKNOWN)),
    (
        ResourceNotFoundError,
        (
            EnvelopeCode.RESOURCE_NOT_FOUND,
            PlatformCode.NOT_FOUND,
            PlatformCode.DATASET_NOT_FOUND,
            PlatformCode.DATA_NOT_FOUND,
            PlatformCode.DATASET__NOT_EXIST,
        ),
    ),
    (ResourceDuplicatedError, (EnvelopeCode.RESOURCE_DUPLICATED, PlatformCode.DUPLICATED)),
    (NameDuplicatedError, (EnvelopeCode.NAME_DUPLICATED, PlatformCode.DATASET_NAME_DUPLICATED)),
    (
        IllegalParamError,
        (
            EnvelopeCode.ILLEGAL_PARAM,
            PlatformCode.PARAM_ERROR,
            PlatformCode.DATASET_DATA_FILE_URL_ERROR,
            PlatformCode.DATASET_DATA_FILE_URL_ILLEGAL,
        ),
    ),
    (IllegalFormatError, (EnvelopeCode.ILLEGAL_FORMAT, PlatformCode.DATASET_DATA_FILE_FORMAT_ERROR)),
    (
        FileFormatNotSupportedError,
        (EnvelopeCode.FILE_FORMAT_NOT_SUPPORTED, PlatformCode.FILE_TYPE_NOT_SUPPORT),
    ),
    (OperationFailedError, (EnvelopeCode.OPERATION_FAILED,)),
    (LicenseExpiredError, (EnvelopeCode.LICENSE_EXPIRED,)),
)

_CODE_ERRORS: dict[str, type[APIResponseError]] = {
    code: error for error, codes in _CODES_BY_MEANING for code in codes
}


def error_for_status(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP status other than 200."""
    if status in _STATUS_ERRORS:
        return _STATUS_ERRORS[status]
    return ServerError if status >= 500 else APIStatusError


def error_for_code(code: str) -> type[APIResponseError]:
    """The exception class for a non-OK envelope code (case-insensitive)."""
    return _CODE_ERRORS.get(code.upper(), UnknownCodeError)
