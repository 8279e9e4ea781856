"""The pipeline maps every HTTP status, envelope code and malformed body to its error class."""

from __future__ import annotations

import aiohttp
import msgspec
import pytest
from _fakes import API_KEY, BASE_URL, connector_error, envelope, make_pipeline
from aioresponses import aioresponses

from basicai_async import _errors as errors
from basicai_async._http import Pipeline
from basicai_async._redact import RedactedException
from basicai_async.models import Dataset

URL = BASE_URL + "/dataset/info/1"
PATH = "/dataset/info/1"


@pytest.fixture
def pipeline(session: aiohttp.ClientSession) -> Pipeline:
    # No retries: each test sees the first answer's error.
    return make_pipeline(session, max_retries=0)[0]


STATUSES = [
    (400, errors.BadRequestError),
    (401, errors.AuthenticationError),
    (403, errors.PermissionDeniedError),
    (404, errors.NotFoundError),
    (405, errors.MethodNotAllowedError),
    (429, errors.RateLimitError),
    (500, errors.InternalServerError),
    (502, errors.BadGatewayError),
    (503, errors.ServiceUnavailableError),
    (504, errors.GatewayTimeoutError),
    (418, errors.APIStatusError),
    (599, errors.ServerError),
    (201, errors.APIStatusError),
]


@pytest.mark.parametrize(("status", "cls"), STATUSES)
async def test_status_maps_to_its_class(
    pipeline: Pipeline, mocked: aioresponses, status: int, cls: type[errors.APIStatusError]
) -> None:
    mocked.get(URL, status=status, body="<html><body>gateway says no</body></html>")
    with pytest.raises(errors.APIStatusError) as info:
        await pipeline.request("GET", PATH, response_type=Dataset)
    exc = info.value
    assert type(exc) is cls
    assert exc.status == status
    assert exc.method == "GET"
    assert exc.path == PATH
    assert exc.body == "<html><body>gateway says no</body></html>"
    assert str(exc).startswith(f"GET {PATH}: HTTP {status}")
    assert exc.__cause__ is None


async def test_status_body_snippet_is_capped_and_lenient(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, status=500, body=b"\xff" + b"x" * 2000)
    with pytest.raises(errors.InternalServerError) as info:
        await pipeline.request("GET", PATH)
    assert len(info.value.body) == 500
    assert info.value.body.startswith("\ufffd")


async def test_status_error_reads_envelope_reason(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, status=400, payload=envelope(code="ILLEGAL_PARAM", message="pageSize must be <= 100"))
    with pytest.raises(errors.BadRequestError) as info:
        await pipeline.request("GET", PATH)
    assert str(info.value) == "GET /dataset/info/1: HTTP 400 ILLEGAL_PARAM: pageSize must be <= 100"


async def test_status_error_with_code_only_body(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, status=403, payload={"code": "FORBIDDEN"})
    with pytest.raises(errors.PermissionDeniedError) as info:
        await pipeline.request("GET", PATH)
    assert str(info.value) == "GET /dataset/info/1: HTTP 403 FORBIDDEN"


async def test_rate_limit_error_keeps_retry_after(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, status=429, headers={"Retry-After": "12"})
    with pytest.raises(errors.RateLimitError) as info:
        await pipeline.request("GET", PATH)
    assert info.value.retry_after == 12.0
    assert info.value.status == 429


async def test_rate_limit_error_without_retry_after(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, status=429)
    with pytest.raises(errors.RateLimitError) as info:
        await pipeline.request("GET", PATH)
    assert info.value.retry_after is None


CODES = [
    ("ERROR", errors.GenericAPIError),
    ("RESOURCE_NOT_FOUND", errors.ResourceNotFoundError),
    ("RESOURCE_DUPLICATED", errors.ResourceDuplicatedError),
    ("NAME_DUPLICATED", errors.NameDuplicatedError),
    ("ILLEGAL_PARAM", errors.IllegalParamError),
    ("ILLEGAL_FORMAT", errors.IllegalFormatError),
    ("FILE_FORMAT_NOT_SUPPORTED", errors.FileFormatNotSupportedError),
    ("OPERATION_FAILED", errors.OperationFailedError),
    ("LICENSE_EXPIRED", errors.LicenseExpiredError),
    ("resource_not_found", errors.ResourceNotFoundError),
    ("QUOTA_MOON_PHASE", errors.UnknownCodeError),
]


@pytest.mark.parametrize(("code", "cls"), CODES)
async def test_envelope_code_maps_to_its_class(
    pipeline: Pipeline, mocked: aioresponses, code: str, cls: type[errors.APIResponseError]
) -> None:
    mocked.get(URL, payload=envelope(code=code, message="server words"))
    with pytest.raises(errors.APIResponseError) as info:
        await pipeline.request("GET", PATH, response_type=Dataset)
    exc = info.value
    assert type(exc) is cls
    assert exc.code == code
    assert exc.server_message == "server words"
    assert (exc.method, exc.path) == ("GET", PATH)
    assert str(exc) == f"GET {PATH}: {code}: server words"


async def test_error_envelope_with_data_of_another_shape(pipeline: Pipeline, mocked: aioresponses) -> None:
    # `data` is not a Dataset, but the code decides: the business error, not a decode error.
    mocked.get(URL, payload={"code": "ILLEGAL_PARAM", "data": ["datasetId"]})
    with pytest.raises(errors.IllegalParamError) as info:
        await pipeline.request("GET", PATH, response_type=Dataset)
    assert str(info.value) == f"GET {PATH}: ILLEGAL_PARAM"
    assert info.value.server_message == ""
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize("code", ["OK", "ok", "Ok"])
async def test_ok_in_any_case_is_success(pipeline: Pipeline, mocked: aioresponses, code: str) -> None:
    mocked.get(URL, payload=envelope({"id": 1, "name": "cars", "createdAt": "2012-03-29T10:05:45Z"}, code))
    ds = await pipeline.request("GET", PATH, response_type=Dataset)
    assert isinstance(ds, Dataset)
    assert (ds.id, ds.name, ds.created_at.year if ds.created_at else None) == (1, "cars", 2012)


async def test_unknown_fields_are_ignored(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, payload={**envelope({"id": 1, "name": "a", "newField": [1]}), "traceId": "x"})
    assert await pipeline.request("GET", PATH, response_type=Dataset) == Dataset(id=1, name="a")


DECODE_CASES = [
    pytest.param(
        b"<html><head><title>502 Bad Gateway</title></head></html>", msgspec.DecodeError, id="html-with-200"
    ),
    pytest.param(b'{"code": "OK", "data": {"id": 1, "na', msgspec.DecodeError, id="truncated"),
    pytest.param(b"", msgspec.DecodeError, id="empty"),
    pytest.param(b'{"code": 0, "data": null}', msgspec.ValidationError, id="code-not-a-string"),
    pytest.param(b'{"message": "no code"}', msgspec.ValidationError, id="no-code"),
    pytest.param(b"[1, 2]", msgspec.ValidationError, id="not-an-object"),
    pytest.param(
        b'{"code": "OK", "data": {"id": "one", "name": "a"}}', msgspec.ValidationError, id="wrong-type"
    ),
    pytest.param(b'{"code": "OK", "data": [1]}', msgspec.ValidationError, id="list-for-object"),
]


@pytest.mark.parametrize(("body", "cause"), DECODE_CASES)
async def test_bad_bodies_raise_decode_error(
    pipeline: Pipeline, mocked: aioresponses, body: bytes, cause: type[Exception]
) -> None:
    mocked.get(URL, status=200, body=body)
    with pytest.raises(errors.APIDecodeError) as info:
        await pipeline.request("GET", PATH, response_type=Dataset)
    exc = info.value
    assert type(exc) is errors.APIDecodeError
    assert type(exc.__cause__) is cause
    assert exc.body == body.decode()
    assert (exc.method, exc.path) == ("GET", PATH)


async def test_wrong_type_names_the_expected_model(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, body=b'{"code": "OK", "data": {"id": "one", "name": "a"}}')
    with pytest.raises(errors.APIDecodeError, match=r"data does not match Dataset"):
        await pipeline.request("GET", PATH, response_type=Dataset)


async def test_null_data_where_an_object_is_expected(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, payload=envelope(None))
    with pytest.raises(errors.APIDecodeError, match=r"data is null, expected Dataset") as info:
        await pipeline.request("GET", PATH, response_type=Dataset)
    assert info.value.__cause__ is None


async def test_null_data_of_generic_type_names_it(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, payload=envelope(None))
    with pytest.raises(errors.APIDecodeError, match=r"expected list\[.*Dataset\]"):
        await pipeline.request("GET", PATH, response_type=list[Dataset])


@pytest.mark.parametrize("response_type", [object, type(None)])
async def test_null_data_is_fine_where_nothing_is_expected(
    pipeline: Pipeline, mocked: aioresponses, response_type: object
) -> None:
    mocked.post(BASE_URL + "/dataset/delete/1", payload=envelope(None))
    assert await pipeline.request("POST", "/dataset/delete/1", response_type=response_type) is None


CONNECTION_CASES = [
    pytest.param(connector_error(), errors.APIConnectionError, False, id="refused"),
    pytest.param(aiohttp.ConnectionTimeoutError(), errors.APITimeoutError, False, id="connect-timeout"),
    pytest.param(aiohttp.ServerDisconnectedError(), errors.APIConnectionError, True, id="disconnected"),
    pytest.param(aiohttp.ServerTimeoutError(), errors.APITimeoutError, True, id="read-timeout"),
    pytest.param(TimeoutError(), errors.APITimeoutError, True, id="total-timeout"),
    pytest.param(aiohttp.ClientPayloadError("cut"), errors.APIConnectionError, True, id="payload"),
    pytest.param(aiohttp.ClientOSError(104, "reset"), errors.APIConnectionError, True, id="reset"),
]


@pytest.mark.parametrize(("raised", "cls", "sent"), CONNECTION_CASES)
async def test_connection_failures_are_mapped(
    pipeline: Pipeline,
    mocked: aioresponses,
    raised: Exception,
    cls: type[errors.APIConnectionError],
    sent: bool,
) -> None:
    mocked.get(URL, exception=raised)
    with pytest.raises(errors.BasicAIError) as info:
        await pipeline.request("GET", PATH)
    exc = info.value
    assert type(exc) is cls
    assert isinstance(exc, errors.APIConnectionError)
    assert exc.sent is sent
    # Kept when it holds only plain data; otherwise (a connector error holds the connection
    # key and more) a scrubbed stand-in naming its type takes its place in the chain.
    cause = exc.__cause__
    assert cause is raised or (
        isinstance(cause, RedactedException) and cause.original_type.endswith(type(raised).__qualname__)
    )
    assert exc.__context__ is None
    assert (exc.method, exc.path) == ("GET", PATH)
    assert API_KEY not in str(exc)


async def test_refused_message_names_the_os_error(pipeline: Pipeline, mocked: aioresponses) -> None:
    mocked.get(URL, exception=connector_error())
    with pytest.raises(errors.APIConnectionError, match=r"could not connect: .*Connection refused"):
        await pipeline.request("GET", PATH)


def test_error_for_status_and_code_helpers() -> None:
    assert errors.error_for_status(404) is errors.NotFoundError
    assert errors.error_for_status(451) is errors.APIStatusError
    assert errors.error_for_status(507) is errors.ServerError
    assert errors.error_for_code("name_duplicated") is errors.NameDuplicatedError
    assert errors.error_for_code("SOMETHING_NEW") is errors.UnknownCodeError


def test_non_api_errors_keep_their_fields() -> None:
    quota = errors.QuotaExhaustedError("daily quota spent", retry_after=3600.0)
    assert (str(quota), quota.retry_after) == ("daily quota spent", 3600.0)
    upload = errors.FileTooLargeError("2 GB > 1 GB", filename="scan.pcd", stage="validate")
    assert isinstance(upload, errors.UploadError)
    assert isinstance(upload, ValueError)
    assert (upload.filename, upload.stage) == ("scan.pcd", "validate")


def test_response_error_without_message_is_its_code() -> None:
    exc = errors.UnknownCodeError("", method="POST", path="/x", code="NEW_CODE")
    assert str(exc) == "POST /x: NEW_CODE"
    assert exc.args == ("POST /x: NEW_CODE",)


def test_every_api_error_is_a_basicai_error() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, errors.BasicAIError), name
