"""``basicai-async plugin serve|try``, the contract checker and the function loader."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from basicai_async import cli
from basicai_async.emulator import sample_png
from basicai_async.plugin import (
    Box2D,
    Box3D,
    ImageItem,
    PluginError,
    PointCloudItem,
    build_request,
    check_answer,
    create_app,
    load_function,
    serve_app,
    try_plugin,
)

# every_python: asyncio's lifecycle meets the interpreter here (see .ci/run).
pytestmark = [pytest.mark.integration, pytest.mark.every_python]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "plugin_detector.py"
SECRET = "cli-secret"


async def run_cli(*argv: str) -> int:
    """``cli.main`` in a worker thread: its asyncio.run must not replace the test's event loop."""
    return await asyncio.to_thread(cli.main, list(argv))


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BASICAI_")}


@pytest.fixture(scope="module")
def example_url() -> Iterator[str]:
    """The example model served by ``plugin serve`` in its own process, as a user runs it."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "basicai_async",
            "plugin",
            "serve",
            f"{EXAMPLE}:predict",
            "--port",
            "0",
            "--allow-private",
            "--secret",
            SECRET,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else url
        yield url
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err  # SIGTERM is a clean stop
    assert SECRET not in err


@pytest.fixture
def pngs(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / f"img{i}.png" for i in range(2)]
    for i, path in enumerate(paths):
        path.write_bytes(sample_png(i, size=16 + 8 * i))
    return paths


async def test_plugin_try_against_the_example_model(
    example_url: str, pngs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status = await run_cli("plugin", "try", example_url, *map(str, pngs), "--secret", SECRET)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "contract: OK" in out
    assert "items: 2 OK, 0 failed" in out
    answer = msgspec.json.decode(out[: out.index("contract:")])
    # The toy model boxes the centre half of each image (16 and 24 pixels wide).
    assert [e["objects"][0]["rightBottomX"] for e in answer["data"]] == [12.0, 18.0]


async def test_plugin_try_reports_a_refused_answer(
    example_url: str, pngs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli("plugin", "try", example_url, str(pngs[0]), "--secret", "wrong") == 1
    out = capsys.readouterr().out
    assert "HTTP 401; BasicAI reads only HTTP 200 answers" in out
    assert "missing or wrong shared secret" in out  # the answer is printed as it came


async def test_plugin_try_takes_the_secret_from_the_environment(
    example_url: str, pngs: list[Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASICAI_PLUGIN_SECRET", SECRET)
    assert await run_cli("plugin", "try", example_url, str(pngs[0])) == 0
    assert "items: 1 OK, 0 failed" in capsys.readouterr().out


async def test_plugin_try_reports_failed_items(
    example_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    assert await run_cli("plugin", "try", example_url, str(not_an_image), "--secret", SECRET) == 1
    out = capsys.readouterr().out
    assert "contract: OK" in out  # every item failed, and the envelope says so
    assert '"code": "ERROR"' in out.splitlines()[1]
    assert "item 1: ERROR: the prediction raised ValueError: not a PNG, GIF or JPEG image" in out


def _free_port_in_use() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve", "no_such_module_xyz:predict"], "no module named 'no_such_module_xyz'"),
        (["serve", "json:no_such_function"], "json has no attribute 'no_such_function'"),
        (["serve", "json"], "expected module:function"),
        (["serve", "json:__doc__"], "json:__doc__ is a str, not a function"),
        (["serve", "missing/model.py:predict"], "missing/model.py is not a file"),
        (["serve", "json:dumps", "--concurrency", "0"], "concurrency must be at least 1"),
        (["try", "http://127.0.0.1:9/", "missing.png"], "missing.png is not a file"),
    ],
)
async def test_bad_input_is_one_line_and_status_1(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli("plugin", *argv) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"error: {says}" or (says in err and err.count("\n") == 1), err


async def test_an_unreachable_service_is_one_line(
    pngs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with _free_port_in_use() as taken:
        port = taken.getsockname()[1]
    assert await run_cli("plugin", "try", f"http://127.0.0.1:{port}/?token=abc", str(pngs[0])) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach http://127.0.0.1:{port}/: cannot connect to 127.0.0.1:{port}")
    assert "token=abc" not in err
    assert err.count("\n") == 1


async def test_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with _free_port_in_use() as taken:
        port = taken.getsockname()[1]
        assert await run_cli("plugin", "serve", "json:dumps", "--port", str(port)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}:")
    assert err.count("\n") == 1


def test_the_real_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    module = tmp_path / "broken_model.py"
    module.write_text("raise RuntimeError('bad weights')\n")
    done = subprocess.run(
        [sys.executable, "-m", "basicai_async", "plugin", "serve", f"{module}:predict"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_env(),
    )
    assert done.returncode == 1
    assert done.stderr == f"error: importing {module} failed: RuntimeError: bad weights\n"


def test_load_function_by_module_name_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_model_pkg").mkdir()
    (tmp_path / "my_model_pkg" / "__init__.py").write_text("")
    (tmp_path / "my_model_pkg" / "net.py").write_text(
        "class Model:\n    def predict(self, item):\n        return []\nmodel = Model()\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", os.getcwd())])
    found = load_function("my_model_pkg.net:model.predict")
    assert found.__name__ == "predict"
    assert load_function(f"{tmp_path / 'my_model_pkg' / 'net.py'}:Model").__name__ == "Model"
    (tmp_path / "needs_dep.py").write_text("import not_installed_dependency_xyz\n")
    with pytest.raises(PluginError, match="importing needs_dep failed: ModuleNotFoundError"):
        load_function("needs_dep:predict")


async def test_try_plugin_sends_point_clouds_with_their_images_and_config(tmp_path: Path) -> None:
    cloud, cam, config = tmp_path / "a.pcd", tmp_path / "cam 0.jpg", tmp_path / "calib.json"
    cloud.write_bytes(b"pcd")
    cam.write_bytes(b"jpg")
    config.write_bytes(b"{}")
    seen: list[tuple[bytes, list[bytes], bytes | None]] = []

    async def predict(item: PointCloudItem) -> list[Box3D]:
        config_bytes = item.camera_config.read_bytes() if item.camera_config else None
        seen.append((item.point_cloud.read_bytes(), [i.read_bytes() for i in item.images], config_bytes))
        return [Box3D(label="car", confidence=0.5, x=0, y=0, z=0, dx=1, dy=1, dz=1)]

    async with serve_app(create_app(predict, kind="pointcloud", allow_private=True)) as url:
        report = await try_plugin(url, [cloud], kind="pointcloud", images=[cam], camera_config=config)
    assert report.ok, report.problems
    assert seen == [(b"pcd", [b"jpg"], b"{}")]


async def test_try_plugin_needs_a_file() -> None:
    with pytest.raises(PluginError, match="at least one file"):
        await try_plugin("http://127.0.0.1:9/", [])


async def test_try_plugin_never_chains_the_secret_of_a_failed_exchange(tmp_path: Path) -> None:
    """aiohttp's TooManyRedirects carries the request's headers (the Bearer secret) in its chain."""
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    secret = "plugin-SECRET-5e1d-do-not-chain"

    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": str(request.url)})

    app = web.Application()
    app.router.add_route("*", "/", loop)
    async with serve_app(app) as url:
        with pytest.raises(PluginError, match="cannot reach") as caught:
            await try_plugin(url, [image], secret=secret)
    seen: set[int] = set()
    exc: BaseException | None = caught.value
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for text in (str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "__dict__", {}))):
            assert secret not in text
        assert not hasattr(exc, "request_info")
        exc = exc.__cause__ or exc.__context__
    assert len(seen) >= 2  # the chain was kept, scrubbed, not dropped


def test_build_request_is_what_basicai_sends() -> None:
    assert build_request("image", ["u1", "u2"]) == {"datas": [{"id": 1, "url": "u1"}, {"id": 2, "url": "u2"}]}
    assert build_request("pointcloud", ["p"], image_urls=["i"], camera_config_url="c") == {
        "datas": [{"id": 1, "pointCloudUrl": "p", "imageUrls": ["i"], "cameraConfigUrl": "c"}]
    }


BOX = {"label": "a", "confidence": 1, "leftTopX": 0, "leftTopY": 0, "rightBottomX": 1, "rightBottomY": 1}


def _answer(*entries: Any, code: Any = "OK") -> bytes:
    return msgspec.json.encode({"code": code, "message": "", "data": list(entries)})


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (500, b"<html>oops</html>", "the body is not JSON"),
        (502, b"", "HTTP 502"),
        (200, b"[]", "the body is a list, expected the envelope object"),
        (200, _answer({"id": 1, "code": "OK", "objects": []}, code="ok"), 'it must be the string "OK"'),
        (200, _answer(), "expected a non-empty array"),
        (200, _answer("x"), "data[0] is a str"),
        (200, _answer({"id": 1}), "data[0] has no 'code'"),
        (200, _answer({"id": 1, "code": "OK"}), "data[0].objects is None"),
        (200, _answer({"id": 1, "code": "OK", "objects": [1]}), "objects[0] is a int"),
        (200, _answer({"id": 1, "code": "OK", "objects": [{"label": "a"}]}), "lacks confidence, leftTopX"),
        (200, _answer({"id": 1, "code": "OK", "objects": [{**BOX, "leftTopX": "0"}]}), "Expected `float`"),
        (200, _answer({"id": 1, "code": "OK", "confidence": "high", "objects": []}), "confidence is 'high'"),
        (200, _answer({"id": 2, "code": "OK", "objects": []}), "no answer for item ids [1]"),
        (
            200,
            _answer({"id": 1, "code": "OK", "objects": []}, {"id": 9, "code": "OK", "objects": []}),
            "ids that were not sent: [9]",
        ),
    ],
)
def test_check_answer_finds_contract_problems(status: int, body: bytes, problem: str) -> None:
    report = check_answer(status, body, kind="image", sent_ids=[1])
    assert not report.ok
    assert any(problem in p for p in report.problems), report.problems


def test_check_answer_accepts_a_good_answer_and_counts_failed_items() -> None:
    body = _answer(
        {"id": 1, "code": "OK", "message": "", "confidence": 0.5, "objects": [BOX]},
        {"id": 2, "code": "ERROR", "message": "no", "objects": []},
    )
    report = check_answer(200, body, kind="image", sent_ids=[1, 2])
    assert report.problems == []
    assert (report.ok_items, report.failed_items, report.ok) == (1, ["item 2: ERROR: no"], False)


def _labelled(*labels: str) -> Any:
    async def predict(item: ImageItem) -> list[Box2D]:
        return [
            Box2D(label=label, confidence=0.5, left_top_x=0, left_top_y=0, right_bottom_x=1, right_bottom_y=1)
            for label in labels
        ]

    return predict


async def test_plugin_try_warns_about_labels_that_differ_only_by_case(
    pngs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    async with serve_app(create_app(_labelled("Car", "car", "truck"), allow_private=True)) as url:
        assert await run_cli("plugin", "try", url, str(pngs[0])) == 0  # a warning, not a failure
        out = capsys.readouterr().out
        assert "contract: OK" in out
        assert "warning: labels 'Car', 'car' differ only by case" in out
        assert "truck" not in out.split("contract: OK")[1]
        # With the platform's class codes, each label is matched as BasicAI matches it.
        assert await run_cli("plugin", "try", url, str(pngs[0]), "--labels", "car, bus") == 0
        out = capsys.readouterr().out
    assert "warning: label 'Car' matches class code 'car' only by case" in out
    assert "warning: label 'truck' is none of the class codes: BasicAI drops its boxes" in out
    assert "label 'car' " not in out


def test_check_answer_reads_the_envelope_as_basicai_does() -> None:
    failed = {"id": 1, "code": "ERROR", "message": "no", "objects": []}
    good = {"id": 2, "code": "OK", "message": "", "objects": [BOX]}
    all_failed = check_answer(200, _answer(failed, code="ERROR"), kind="image", sent_ids=[1])
    assert (all_failed.problems, all_failed.warnings, all_failed.failed_items) == (
        [],
        [],
        ["item 1: ERROR: no"],
    )
    hidden = check_answer(200, _answer(failed), kind="image", sent_ids=[1])
    assert hidden.problems == []
    assert hidden.warnings == [
        'every item failed under envelope code "OK": BasicAI saves a failed image as a success '
        'with no objects; answer "ERROR" in the envelope when every item failed'
    ]
    # The point-cloud path reads each item's code: no warning there.
    assert check_answer(200, _answer(failed), kind="pointcloud", sent_ids=[1]).warnings == []
    mixed = check_answer(200, _answer(failed, good, code="ERROR"), kind="image", sent_ids=[1, 2])
    assert mixed.problems == ['envelope code is "ERROR" but 1 item(s) succeeded: BasicAI drops their objects']
    unknown = check_answer(200, _answer(failed, code="FAILED"), kind="image", sent_ids=[1])
    assert any('it must be the string "OK"' in p for p in unknown.problems), unknown.problems


async def test_serve_help_says_what_connecting_to_the_platform_takes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        await run_cli("plugin", "serve", "--help")
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "self-hosted platform hands out file URLs on its own object store" in out
    assert "serve with --allow-private" in out
    assert "The platform sends no Authorization header, so --secret is for other callers" in out
    assert "answered with an error (default 60). BasicAI itself waits without limit" in out
    assert "e.g. /pointCloud/recognition); other paths get a 404 naming it" in out
    assert "in the same case" in out
