"""Reads of an export's files: an image's size from a ranged read, retried, refused, never the whole image."""

from __future__ import annotations

import re

import aiohttp
import msgspec
from aioresponses import aioresponses as Aioresponses

from basicai_async import RetryPolicy
from basicai_async._fileread import read_image_size, read_json
from basicai_async.emulator._samples import sample_png

URL = "https://bucket.example/img.png?X-Amz-Signature=c2VjcmV0&X-Amz-Expires=60"
MATCH = re.compile(r"^https://bucket\.example/img\.png.*$")


def _policy(waits: list[float]) -> RetryPolicy:
    async def sleep(delay: float) -> None:
        waits.append(delay)

    return RetryPolicy(max_retries=2, sleep=sleep, random=lambda: 0.0)


async def test_a_ranged_read_sizes_an_image_and_a_5xx_is_retried(mocked: Aioresponses) -> None:
    png = sample_png(1, 300, 200)
    mocked.get(MATCH, status=503, headers={"Retry-After": "0"})
    mocked.get(MATCH, status=206, body=png[: 64 * 1024])
    waits: list[float] = []
    async with aiohttp.ClientSession() as session:
        assert await read_image_size(session, URL, _policy(waits)) == (300, 200)
    assert waits == [0.0]
    sent = [call.kwargs["headers"]["Range"] for calls in mocked.requests.values() for call in calls]
    assert sent == ["bytes=0-65535", "bytes=0-65535"]


async def test_a_refusal_is_a_reason_without_the_signature_and_not_retried(mocked: Aioresponses) -> None:
    mocked.get(MATCH, status=403)
    waits: list[float] = []
    async with aiohttp.ClientSession() as session:
        reason = await read_image_size(session, URL, _policy(waits))
    assert isinstance(reason, str)
    assert "HTTP 403" in reason
    assert "c2VjcmV0" not in reason
    assert waits == []


async def test_a_server_ignoring_range_is_cut_off_and_bytes_that_are_no_image_are_named(
    mocked: Aioresponses,
) -> None:
    mocked.get(MATCH, status=200, body=b"not an image at all" * 10)
    async with aiohttp.ClientSession() as session:
        reason = await read_image_size(session, URL, _policy([]))
    assert isinstance(reason, str)
    assert reason.startswith("no image size in the first bytes of https://bucket.example/img.png")
    assert "c2VjcmV0" not in reason


async def test_a_camera_configuration_is_read_as_json_or_named(mocked: Aioresponses) -> None:
    config = [{"camera_internal": {"fx": 1, "fy": 1, "cx": 0, "cy": 0}, "camera_external": [0] * 16}]
    mocked.get(MATCH, status=200, body=msgspec.json.encode(config))
    mocked.get(MATCH, status=200, body=b"{not json")
    async with aiohttp.ClientSession() as session:
        assert await read_json(session, URL, _policy([])) == config
        broken = await read_json(session, URL, _policy([]))
    assert isinstance(broken, str)
    assert "is not JSON" in broken
