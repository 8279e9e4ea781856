"""Redaction of pre-signed query strings and the API key (_redact): text, URLs, exception chains."""

from __future__ import annotations

from urllib.parse import quote, unquote

import aiohttp
import pytest
import yarl
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from basicai_async import UploadError
from basicai_async._redact import (
    REDACTED,
    RedactedException,
    chain_scrubbed,
    query_secrets,
    redact_text,
    redact_url,
    scrub_exception,
)

API_KEY = "sk-DISTINCTIVE-7f3a9c1e-do-not-log"

SIGNING_NAMES = [
    "Signature",
    "Credential",
    "Security-Token",
    "security-token",
    "Expires",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "X-Amz-Date",
    "X-Amz-Expires",
    "AWSAccessKeyId",
    "OSSAccessKeyId",
    "x-oss-signature",
    "x-oss-credential",
    "sig",
    "se",
    "sv",
    "Policy",
    "Key-Pair-Id",
    "X-Goog-Signature",
    "X-Goog-Credential",
    "q-signature",
]
# Characters signatures, credentials and tokens are made of (base64, base64url, hex, '/').
SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_.~"


def _respell(name: str, draw: st.DrawFn) -> str:
    """The same parameter name in another case, with '-' and '_' swapped, some characters encoded."""
    out = []
    for ch in name:
        choice = draw(st.integers(0, 4))
        if ch in "-_" and choice == 0:
            ch = "_" if ch == "-" else "-"
        elif ch.isalpha() and choice == 1:
            ch = ch.swapcase()
        elif choice == 2:
            ch = f"%{ord(ch):02X}"
        out.append(ch)
    return "".join(out)


@st.composite
def signed_urls(draw: st.DrawFn) -> tuple[str, list[str], str, str]:
    """A pre-signed URL: (url, its secret values, host, path)."""
    host = draw(
        st.sampled_from(["bucket.s3.amazonaws.com", "oss-cn.aliyuncs.com", "acct.blob.core.windows.net"])
    )
    path = "/" + "/".join(
        draw(st.lists(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=4))
    )
    params: list[tuple[str, str]] = []
    secrets: list[str] = []
    for name in draw(st.lists(st.sampled_from(SIGNING_NAMES), min_size=1, max_size=5, unique=True)):
        # A distinctive prefix so a secret cannot occur in the host or path by chance.
        value = "Zq9" + draw(st.text(SECRET_ALPHABET, min_size=10, max_size=60))
        secrets.append(value)
        encoded = quote(value, safe=draw(st.sampled_from(["", "/", "/+="])))
        params.append((_respell(name, draw), encoded))
    for i in range(draw(st.integers(0, 2))):
        params.insert(draw(st.integers(0, len(params))), (f"partNumber{i}", str(i)))
    query = "&".join(f"{n}={v}" for n, v in params)
    return f"https://{host}{path}?{query}", secrets, host, path


def _forms(url: str) -> list[str]:
    """The URL as our code, aiohttp's messages and nested URLs may show it."""
    return [
        url,
        str(yarl.URL(url, encoded=True)),
        str(yarl.URL(url)),  # yarl normalises: %2F -> /
        unquote(url),
        "https://proxy.example/go?next=" + quote(url, safe=""),
        "https://proxy.example/go?next=" + quote(quote(url, safe=""), safe=""),
    ]


def _leaks(secret: str, text: str) -> bool:
    decoded = text
    for _ in range(3):
        if secret in decoded or quote(secret, safe="") in decoded:
            return True
        decoded = unquote(decoded)
    return False


@settings(max_examples=150, deadline=None)
@given(
    signed=signed_urls(),
    wrapper=st.sampled_from(["{u}", "PUT {u!r} failed", "URL('{u}')", '<a href="{u}">x</a>']),
)
def test_no_secret_survives_in_any_encoding(signed: tuple[str, list[str], str, str], wrapper: str) -> None:
    url, secrets, host, path = signed
    for form in _forms(url):
        text = wrapper.format(u=form)
        out = redact_text(text)
        for secret in secrets:
            assert not _leaks(secret, out), (secret, out)
        assert host in out
        assert path in unquote(unquote(out))
        assert redact_text(out) == out  # idempotent


@settings(max_examples=50, deadline=None)
@given(signed=signed_urls())
def test_non_secret_parameters_stay(signed: tuple[str, list[str], str, str]) -> None:
    url, _, host, path = signed
    out = redact_text(url + "&partNumber=7&uploadId=abc")
    assert out.startswith(f"https://{host}{path}?")
    assert out.endswith("&partNumber=7&uploadId=abc")


def test_ordinary_words_are_not_taken_for_parameters() -> None:
    text = "the se=3 case, sig=4 and sv=5 are not in a query; Signature is a word"
    assert redact_text(text) == text


def test_header_lists_are_redacted_pair_by_pair() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us/s3/aws4_request, SignedHeaders=host, Signature=beef"
    )
    assert redact_text(header) == (
        f"AWS4-HMAC-SHA256 Credential={REDACTED}, SignedHeaders=host, Signature={REDACTED}"
    )


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: ApiKey {API_KEY}",
        f"{{'Authorization': 'ApiKey {API_KEY}'}}",
        f"key={quote(API_KEY, safe='')}&x=1",
        f"double {quote(quote(API_KEY, safe=''), safe='')}",
        f"raw {API_KEY} in text",
    ],
)
def test_api_key_is_redacted_where_given(text: str) -> None:
    out = redact_text(text, secrets=[API_KEY])
    assert not _leaks(API_KEY, out)
    assert REDACTED in out


def test_api_key_header_is_redacted_without_being_named() -> None:
    assert redact_text("headers={'Authorization': 'ApiKey abc123'}") == (
        f"headers={{'Authorization': 'ApiKey {REDACTED}'}}"
    )


def _request_info(url: str) -> aiohttp.RequestInfo:
    headers = CIMultiDictProxy(CIMultiDict({"Authorization": f"ApiKey {API_KEY}"}))
    return aiohttp.RequestInfo(yarl.URL(url), "PUT", headers, yarl.URL(url))


def _chain_text(exc: BaseException | None) -> str:
    parts = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts += [str(exc), repr(exc), repr(exc.args), repr(vars(exc) if hasattr(exc, "__dict__") else {})]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


SIGNED = "https://b.s3.example/k.jpg?X-Amz-Credential=AKIA%2F2024%2Fus&X-Amz-Signature=5ecre7beef"


def test_aiohttp_exceptions_are_replaced_and_ours_kept() -> None:
    info = _request_info(SIGNED)
    root = aiohttp.ClientResponseError(info, (), status=301, message="redirect loop", headers=info.headers)
    mid = aiohttp.ClientOSError(104, f"reset while writing to {yarl.URL(SIGNED)}")
    mid.__cause__ = root
    top = UploadError(f"PUT {SIGNED} failed", filename="k.jpg", stage="put")
    top.__cause__ = mid

    scrubbed = scrub_exception(top, secrets=[API_KEY])

    assert scrubbed is top  # ours holds only text: cleaned in place, still an UploadError
    assert top.filename == "k.jpg"
    assert top.stage == "put"
    text = _chain_text(scrubbed)
    for secret in (API_KEY, "5ecre7beef", "AKIA"):
        assert secret not in text
    assert "b.s3.example/k.jpg" in text
    replaced = scrubbed.__cause__.__cause__  # type: ignore[union-attr]
    assert isinstance(replaced, RedactedException)
    assert replaced.original_type == "aiohttp.client_exceptions.ClientResponseError"
    assert not hasattr(replaced, "request_info")


def test_exceptions_whose_str_ignores_args_are_replaced() -> None:
    exc = FileNotFoundError(2, "No such file", f"/tmp/x?Signature=5ecre7beef&ApiKey={API_KEY}")
    scrubbed = scrub_exception(exc)
    assert isinstance(scrubbed, RedactedException)
    assert "5ecre7beef" not in _chain_text(scrubbed)
    assert API_KEY not in _chain_text(scrubbed)


def test_context_cycles_and_unprintable_exceptions() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    first = ValueError(f"ApiKey {API_KEY}")
    second = Unprintable()
    first.__context__ = second
    second.__context__ = first  # a cycle: must terminate
    scrubbed = scrub_exception(first, secrets=[API_KEY])
    assert scrubbed is first
    assert isinstance(first.__context__, RedactedException)
    assert "<unprintable>" in str(first.__context__)
    assert first.__context__.__context__ is first
    assert API_KEY not in _chain_text(scrubbed)


def test_notes_and_attributes_are_cleaned() -> None:
    exc = UploadError("failed", filename="k.jpg?sig=5ecre7beef&se=2030", stage="put")
    exc.add_note(f"url {SIGNED}")
    scrub_exception(exc)
    assert "5ecre7beef" not in exc.filename
    assert "5ecre7beef" not in exc.__notes__[0]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://b.s3/k.jpg?X-Amz-Signature=5ecre7beef&x=1", "https://b.s3/k.jpg"),
        ("https://user:pw@b.s3:9000/a/k.jpg?whatever=5ecre7beef#frag", "https://b.s3:9000/a/k.jpg"),
        ("https://b.s3/a%20b/k.jpg", "https://b.s3/a%20b/k.jpg"),
        (yarl.URL("http://127.0.0.1:8/p?token=5ecre7beef"), "http://127.0.0.1:8/p"),
        ("no-scheme/k.jpg", "no-scheme/k.jpg"),
        ("http://[::1/x?a=5ecre7beef", "<unparsable URL>"),
    ],
)
def test_a_url_for_display_keeps_where_and_drops_any_query(url: object, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_url(shown) == shown or shown == "<unparsable URL>"


def test_a_query_is_a_secret_as_a_whole_for_the_scrubber() -> None:
    url = "https://b.s3/k.jpg?vendorSig=5ecre7beef&n=1#f"
    assert query_secrets(url) == ("vendorSig=5ecre7beef&n=1",)
    assert query_secrets("https://b.s3/k.jpg") == ()
    assert "5ecre7beef" not in redact_text(f"PUT {url} failed", secrets=query_secrets(url))


def test_chain_scrubbed_redacts_the_message_and_chains_only_a_scrubbed_copy() -> None:
    try:
        raise aiohttp.ClientConnectionError(f"reset on {SIGNED} with ApiKey {API_KEY}")
    except aiohttp.ClientError as exc:
        failure = chain_scrubbed(UploadError(f"PUT failed: {exc}", filename="k", stage="put"), exc)
    assert failure.__context__ is None
    assert failure.__cause__ is not None
    assert "5ecre7beef" not in _chain_text(failure)
    assert API_KEY not in _chain_text(failure)
    assert str(failure).startswith("PUT failed: reset on https://")
