"""client.scenes against a mocked API: add (with or without frames) and remove."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from _fakes import FakeApi

from basicai_async._client import AsyncBasicAI
from basicai_async.models import FileRef, NewData, Scene

PCD = FileRef(path="https://bucket.test/0.pcd", size=10, mime_type="application/octet-stream")
PCD_WIRE = {"path": "https://bucket.test/0.pcd", "size": 10, "mimeType": "application/octet-stream"}


async def test_add_a_bare_scene(api: FakeApi) -> None:
    api.answer("POST", "/dataset/addScene/7", {"id": 50, "name": "drive"})
    assert await api.client.scenes.add(7, name="drive") == Scene(id=50, name="drive")
    api.assert_call(api.only_call(), "POST", "/dataset/addScene/7", json={"name": "drive"})


async def test_add_a_scene_with_its_frames_in_a_batch(api: FakeApi) -> None:
    answer = {
        "id": 50,
        "name": "drive",
        "batchId": 3,
        "frames": [{"id": 51, "name": "0"}, {"id": 52, "name": "1"}],
    }
    api.answer("POST", "/dataset/addScene/7", answer)
    frames = [NewData(name="0", files=[PCD]), NewData(name="1", files=[PCD])]
    scene = await api.client.scenes.add(7, name="drive", batch_id=3, frames=frames)
    assert scene.batch_id == 3
    assert [f.id for f in scene.frames or []] == [51, 52]
    api.assert_call(
        api.only_call(),
        "POST",
        "/dataset/addScene/7",
        json={
            "name": "drive",
            "batchId": 3,
            "frames": [{"name": "0", "files": [PCD_WIRE]}, {"name": "1", "files": [PCD_WIRE]}],
        },
    )


async def test_remove(api: FakeApi) -> None:
    api.answer("POST", "/dataset/removeScene/7/50")
    assert await api.client.scenes.remove(7, 50) is None
    api.assert_call(api.only_call(), "POST", "/dataset/removeScene/7/50")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c.scenes.add(0, name="s"), ValueError, "dataset_id"),
        (lambda c: c.scenes.add(7, name="\t"), ValueError, "name"),
        (lambda c: c.scenes.add(7, name=3), TypeError, "name"),
        (lambda c: c.scenes.add(7, name="s", batch_id=0), ValueError, "batch_id"),
        (lambda c: c.scenes.add(7, name="s", frames=[]), ValueError, "at least one NewData"),
        (lambda c: c.scenes.add(7, name="s", frames=[PCD]), TypeError, r"frames\[0\]"),
        (
            lambda c: c.scenes.add(7, name="s", frames=[NewData(name="", files=[PCD])]),
            ValueError,
            r"frames\[0\]\.name",
        ),
        (lambda c: c.scenes.remove(7, 0), ValueError, "scene_id"),
        (lambda c: c.scenes.remove(7.0, 1), TypeError, "dataset_id"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    api: FakeApi, call: Callable[[AsyncBasicAI], Awaitable[object]], error: type[Exception], match: str
) -> None:
    await api.assert_refused_before_any_request(call, error, match)
