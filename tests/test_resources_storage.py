"""client.storage against a mocked API: pre-signing, its size limit and its answer check."""

from __future__ import annotations

import pytest
from _fakes import FakeApi

from basicai_async._errors import APIDecodeError, FileTooLargeError, UploadError
from basicai_async.models import PresignedUpload, PresignRequest

PATH = "/storage/batchGeneratePreSignedUploadUrl"
GIB = 1024**3


def _url(name: str) -> dict[str, str]:
    return {"preSignedUrl": f"https://bucket.test/{name}?sig=x", "path": f"https://bucket.test/{name}"}


async def test_presign_posts_an_array_and_returns_urls_in_order(api: FakeApi) -> None:
    api.answer("POST", PATH, [_url("a.jpg"), _url("b.pcd")])
    uploads = await api.client.storage.presign_uploads(
        [
            PresignRequest(filename="a.jpg", size=10),
            PresignRequest(filename="b.pcd", size=GIB, device_name="lidar"),
        ]
    )
    assert uploads == [
        PresignedUpload(pre_signed_url="https://bucket.test/a.jpg?sig=x", path="https://bucket.test/a.jpg"),
        PresignedUpload(pre_signed_url="https://bucket.test/b.pcd?sig=x", path="https://bucket.test/b.pcd"),
    ]
    api.assert_call(
        api.only_call(),
        "POST",
        PATH,
        json=[{"filename": "a.jpg", "size": 10}, {"filename": "b.pcd", "size": GIB, "deviceName": "lidar"}],
    )


@pytest.mark.parametrize("answer", [[], [_url("a")], [_url("a"), _url("b"), _url("c")]])
async def test_an_answer_with_another_count_is_a_decode_error(
    api: FakeApi, answer: list[dict[str, str]]
) -> None:
    api.answer("POST", PATH, answer)
    with pytest.raises(APIDecodeError, match="asked for 2 upload URLs") as caught:
        await api.client.storage.presign_uploads(
            [PresignRequest(filename="a", size=1), PresignRequest(filename="b", size=1)]
        )
    assert caught.value.method == "POST"
    assert caught.value.path == PATH
    assert len(api.calls) == 1


async def test_a_file_over_one_gib_is_refused_before_any_call(api: FakeApi) -> None:
    files = [PresignRequest(filename="ok.bin", size=GIB), PresignRequest(filename="big.bin", size=GIB + 1)]
    with pytest.raises(FileTooLargeError, match=r"big\.bin") as caught:
        await api.client.storage.presign_uploads(files)
    assert isinstance(caught.value, UploadError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.filename == "big.bin"
    assert caught.value.stage == "validate"
    assert api.calls == []
    assert api.limiter.acquired == 0


@pytest.mark.parametrize(
    ("files", "error", "match"),
    [
        ([], ValueError, "at least one PresignRequest"),
        (PresignRequest(filename="a", size=1), TypeError, "files"),
        ("a.jpg", TypeError, "files"),
        ([{"filename": "a", "size": 1}], TypeError, r"files\[0\]"),
        ([PresignRequest(filename=" ", size=1)], ValueError, r"files\[0\]\.filename"),
        ([PresignRequest(filename="a", size=0)], ValueError, r"files\[0\]\.size"),
        (
            [PresignRequest(filename="a", size=1), PresignRequest(filename="b", size=-5)],
            ValueError,
            r"files\[1\]\.size",
        ),
        ([PresignRequest(filename="a", size=1.5)], TypeError, r"files\[0\]\.size"),  # type: ignore[arg-type]
        ([PresignRequest(filename="a", size=True)], TypeError, r"files\[0\]\.size"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    api: FakeApi, files: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await api.client.storage.presign_uploads(files)  # type: ignore[arg-type]
    assert api.calls == []
    assert api.limiter.acquired == 0
