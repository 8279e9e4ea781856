"""The command line end to end: subprocesses against an emulator process, and in-process for each branch."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import basicai_async._demo as demo_module
import basicai_async.cli._export as cli_export
import basicai_async.emulator._cli as emulator_cli
from basicai_async import (
    AsyncBasicAI,
    BytesSent,
    FileDone,
    FileFailed,
    SqliteManifest,
    Uploader,
    UploadError,
    UploadStarted,
    cli,
)
from basicai_async._demo import run_demo
from basicai_async._progress import ConsoleProgress
from basicai_async.emulator import sample_png
from basicai_async.resources import Datasets
from basicai_async.uploader import UploadResult

# every_python: asyncio's lifecycle meets the interpreter here (see .ci/run).
pytestmark = [pytest.mark.integration, pytest.mark.every_python]

KEY = "cli-key"


@pytest.fixture(scope="module")
def emulator_url(emulator_process: Callable[[str], Any]) -> Iterator[str]:
    with emulator_process(KEY) as url:
        yield url


def _run(*args: str, url: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASICAI_")}
    if url is not None:
        env |= {"BASICAI_API_KEY": KEY, "BASICAI_BASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "basicai_async", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _images(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"img-{i:03d}.png" for i in range(count)]
    for i, path in enumerate(paths):
        path.write_bytes(sample_png(i, size=8))
    return paths


def test_demo_runs_end_to_end_with_no_key_and_no_network(tmp_path: Path) -> None:
    done = _run("demo", "--files", "50", "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "demo summary" in done.stdout
    assert "files registered   50 of 50 (0 failed)" in done.stdout
    assert "items walked       50" in done.stdout
    summary = r"API calls +(\d+) \(busiest 1-second window: (\d+), BasicAI's limit 100\)"
    calls = re.search(summary, done.stdout)
    assert calls is not None, done.stdout
    assert int(calls[1]) > 50  # one result query per item, and the upload's calls
    assert int(calls[2]) <= 100
    lines = (tmp_path / "out" / "results.jsonl").read_bytes().splitlines()
    assert len(lines) == 100
    assert {json.loads(line)["dataId"] for line in lines} == set(range(1, 51))
    assert len(list((tmp_path / "out" / "images").glob("*.png"))) == 50


def test_upload_list_export_in_subprocesses(emulator_url: str, tmp_path: Path) -> None:
    _images(tmp_path / "imgs", 40)
    (tmp_path / "imgs" / ".hidden.png").write_bytes(b"skip me")
    manifest = tmp_path / "imgs" / "upload.jsonl"  # inside the directory: not uploaded itself

    up = _run(
        "upload",
        str(tmp_path / "imgs"),
        "--create",
        "cli-sub",
        "--manifest",
        str(manifest),
        url=emulator_url,
    )
    assert up.returncode == 0, up.stderr
    assert "40 of 40 files registered in dataset" in up.stdout
    dataset_id = int(up.stdout.split("created dataset ")[1].split()[0])
    assert (
        len(manifest.read_bytes().splitlines()) == 81
    )  # the target header, then registering + registered per file

    again = _run(
        "upload",
        str(tmp_path / "imgs"),
        "--dataset",
        str(dataset_id),
        "--manifest",
        str(manifest),
        url=emulator_url,
    )
    assert again.returncode == 0, again.stderr
    assert "40 of 40 files registered" in again.stdout

    listed = _run("datasets", "list", url=emulator_url)
    assert listed.returncode == 0, listed.stderr
    assert f"{dataset_id}\tIMAGE\tcli-sub" in listed.stdout.splitlines()

    out = tmp_path / "results.jsonl"
    exported = _run("export", str(dataset_id), "-o", str(out), url=emulator_url)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == f"exported 80 results of 40 data items to {out}"
    assert len(out.read_bytes().splitlines()) == 80  # the rerun added nothing


def test_missing_key_is_a_clear_error(tmp_path: Path) -> None:
    done = _run("datasets", "list")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "BASICAI_API_KEY" in done.stderr


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("upload", "export", "datasets", "emulator", "demo"):
        assert command in out


# -- in process, one branch each ------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, emulator_url: str) -> str:
    monkeypatch.setenv("BASICAI_API_KEY", KEY)
    monkeypatch.setenv("BASICAI_BASE_URL", emulator_url)
    return emulator_url


def test_upload_reports_failures_and_exits_1(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _images(tmp_path / "mixed", 5)
    (tmp_path / "mixed" / "notes.txt").write_text("not an image")
    status = cli.main(["upload", str(tmp_path / "mixed"), "--create", "cli-mixed", "--concurrency", "2"])
    out, err = capsys.readouterr()
    assert status == 1
    assert "5 of 6 files registered" in out
    assert "1 failed" in out
    assert "notes.txt: register: " in err
    assert "FILE_FORMAT_NOT_SUPPORTED" in err


def test_upload_with_a_pattern_and_export_one_source(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _images(tmp_path / "pat", 6)
    (tmp_path / "pat" / "other.jpg").write_bytes(b"jpg")
    assert cli.main(["upload", str(tmp_path / "pat"), "--create", "cli-pattern", "--pattern", "*.png"]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 files registered" in out
    dataset_id = int(out.split("created dataset ")[1].split()[0])
    assert cli.main(["datasets", "list", "--name", "cli-pattern", "--type", "IMAGE"]) == 0
    assert capsys.readouterr().out == f"{dataset_id}\tIMAGE\tcli-pattern\n"

    async def second_source() -> int:
        async with AsyncBasicAI() as client:
            return (await client.annotations.list_sources(dataset_id))[1].id

    source_id = asyncio.run(second_source())
    out_file = tmp_path / "one-source.jsonl"
    assert cli.main(["export", str(dataset_id), "-o", str(out_file), "--source-id", str(source_id)]) == 0
    assert "exported 6 results of 6 data items" in capsys.readouterr().out
    assert {json.loads(line)["sourceId"] for line in out_file.read_bytes().splitlines()} == {source_id}


def test_upload_into_a_batch_and_into_a_scene(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _images(tmp_path / "into", 3)

    async def make_parents() -> tuple[int, int, int]:
        async with AsyncBasicAI() as client:
            ds = await client.datasets.create(name="cli-into", type="IMAGE")
            batch = await client.batches.add(ds.id, name="b")
            scene = await client.scenes.add(ds.id, name="s")
            return ds.id, batch.id, scene.id

    async def names_under(dataset_id: int, parent_id: int) -> list[str]:
        async with AsyncBasicAI() as client:
            listed = client.items.iter_by_id(dataset_id, parent_id=parent_id)
            return sorted([i.name async for i in listed if i.is_data and i.name is not None])

    async def scene_in(dataset_id: int, batch_id: int) -> int:
        async with AsyncBasicAI() as client:
            return (await client.scenes.add(dataset_id, name="s-in-b", batch_id=batch_id)).id

    dataset_id, batch_id, scene_id = asyncio.run(make_parents())
    inner = asyncio.run(scene_in(dataset_id, batch_id))
    into = (
        ["--batch", str(batch_id)],
        ["--scene", str(scene_id)],
        ["--batch", str(batch_id), "--scene", str(inner)],
    )
    for flags, parent in zip(into, (batch_id, scene_id, inner), strict=True):
        args = ["upload", str(tmp_path / "into"), "--dataset", str(dataset_id), *flags]
        assert cli.main(args) == 0
        assert "3 of 3 files registered" in capsys.readouterr().out
        assert asyncio.run(names_under(dataset_id, parent)) == [f"img-{i:03d}.png" for i in range(3)]


def test_upload_of_a_file_instead_of_a_directory(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f.png").write_bytes(b"x")
    assert cli.main(["upload", str(tmp_path / "f.png"), "--dataset", "1"]) == 1
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (
            ["upload", "{dir}", "--dataset", "1", "--manifest", "{dir}/m.jsonl"],
            "rerun with the same --manifest",
        ),
        (["upload", "{dir}", "--dataset", "1"], "--manifest makes an upload resumable"),
        (["datasets", "list"], "interrupted"),
        (["export", "1", "-o", "{dir}/out.jsonl"], "out.jsonl is incomplete: rerun the export"),
    ],
)
def test_interrupt_says_what_to_do_for_the_command_that_ran(
    env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    hint: str,
) -> None:
    async def interrupted(*args: object, **kwargs: object) -> Any:
        raise KeyboardInterrupt

    class InterruptedListing:
        def __aiter__(self) -> InterruptedListing:
            return self

        async def __anext__(self) -> Any:
            raise KeyboardInterrupt

    monkeypatch.setattr(Uploader, "upload", interrupted)
    monkeypatch.setattr(Datasets, "list", lambda *a, **k: InterruptedListing())
    monkeypatch.setattr(cli_export, "export_results", interrupted)
    _images(tmp_path, 1)  # something to upload: an empty directory fails before the upload starts
    assert cli.main([a.format(dir=tmp_path) for a in argv]) == 130
    # The last line (an upload's progress may stand above it).
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert hint in last
    assert ("--manifest" in last) == (argv[0] == "upload")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["export", "abc", "-o", "x.jsonl"], "dataset: expected a positive integer, got 'abc'"),
        (
            ["upload", ".", "--dataset", "1", "--concurrency", "0"],
            "--concurrency: expected a positive integer",
        ),
        (["export", "-1", "-o", "x.jsonl"], "dataset: expected a positive integer, got -1"),
        (["datasets"], "the following arguments are required"),
        (["demo", "--files", "0"], "--files: expected a positive integer"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


def test_a_bad_argument_of_the_sdk_is_one_line_and_exit_1(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _images(tmp_path, 1)
    assert cli.main(["upload", str(tmp_path), "--create", " "]) == 1
    assert capsys.readouterr().err == "error: name must not be empty\n"


def test_a_missing_output_directory_fails_before_any_call(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-dir" / "out.jsonl"
    assert cli.main(["export", "1", "-o", str(missing)]) == 1
    assert capsys.readouterr().err == f"error: no such directory: {missing.parent}\n"


def test_global_options_before_or_after_the_command(
    emulator_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BASICAI_API_KEY", raising=False)
    monkeypatch.delenv("BASICAI_BASE_URL", raising=False)
    options = ["--api-key", KEY, "--base-url", emulator_url]
    assert cli.main([*options, "-v", "datasets", "list", "--name", "none-such"]) == 0
    assert cli.main(["datasets", "list", "--name", "none-such", *options, "-v"]) == 0
    assert capsys.readouterr().out == ""
    assert cli.main(["datasets", "list", "--api-key", "wrong-key", "--base-url", emulator_url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "401" in err


def test_the_emulator_command_takes_global_options_on_either_side(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[object] = []
    monkeypatch.setattr(emulator_cli, "run", lambda args: served.append(args) or 0)
    assert cli.main(["-v", "emulator", "--port", "0"]) == 0
    assert cli.main(["emulator", "--port", "0", "-v", "--no-limits"]) == 0
    assert [(a.port, a.verbose, a.no_limits) for a in served] == [(0, True, False), (0, True, True)]


def test_a_command_module_plugs_in_with_register(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Hello:
        @staticmethod
        def register(subparsers: Any) -> None:
            hello = subparsers.add_parser("hello", help="say hello")
            hello.add_argument("name")
            hello.set_defaults(handler=lambda args: print(f"hello {args.name}") or 3)

    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, Hello))
    assert cli.main(["hello", "you", "-v"]) == 3
    assert capsys.readouterr().out == "hello you\n"


def test_demo_errors_go_through_the_error_handler(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def failing(**kwargs: object) -> int:
        raise UploadError("disk\nfull", filename="x.png", stage="put")

    monkeypatch.setattr(demo_module, "run_demo", failing)
    assert cli.main(["demo", "--files", "1"]) == 1
    assert capsys.readouterr().err == "error: disk full\n"


def test_verbose_and_emulator_help(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-v", "datasets", "list", "--name", "no-such-dataset"]) == 0
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit) as info:
        cli.main(["emulator", "--help"])
    assert info.value.code == 0
    assert "--no-limits" in capsys.readouterr().out


async def test_demo_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "frame-99999.png").write_bytes(b"stale")  # a previous run's file goes
    assert await run_demo(files=3, output=tmp_path) == 0
    out = capsys.readouterr().out
    assert "files registered   3 of 3" in out
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [f"frame-{i:05d}.png" for i in range(3)]
    with pytest.raises(ValueError, match="at least one file"):
        await run_demo(files=0, output=tmp_path)


def test_sample_png_is_a_valid_distinct_image() -> None:
    a, b = sample_png(1, size=4), sample_png(2, size=4)
    assert a.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"IHDR" in a
    assert b"IEND" in a
    assert a != b


@pytest.mark.parametrize("plain", [True, False])
def test_console_progress_counts_files_bytes_and_failures(
    plain: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    with ConsoleProgress(plain=plain) as progress:
        progress(UploadStarted(files=3, to_upload=3, bytes=30))
        progress(BytesSent(10))
        progress(BytesSent(25))
        progress(BytesSent(-5))  # a retry starts a file over
        progress(FileDone(UploadResult("a.png", 10, ok=True, data_id=1)))
        progress(FileFailed(UploadResult("b.png", 10, stage="put", error="storage answered HTTP 503")))
    assert (progress.files_done, progress.failures, progress.bytes_sent) == (2, 1, 30)
    out, err = capsys.readouterr()
    assert "failed: b.png at put: storage answered HTTP 503" in out + err
    if plain:
        assert err.strip().splitlines()[-1] == "2/3 files, 0.0 MB, 1 failed"


def test_console_progress_defaults_to_plain_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    # pytest captures stderr, so it is not a terminal: plain lines, no rich bars.
    with ConsoleProgress() as progress:
        progress(UploadStarted(files=1, to_upload=1, bytes=3))
        progress(FileDone(UploadResult("a.png", 3, ok=True, data_id=1)))
    assert capsys.readouterr().err.strip().splitlines()[-1] == "1/1 files, 0.0 MB, 0 failed"


def test_the_readme_command_lines_parse() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    lines = [line.split("#")[0].split() for line in readme.splitlines() if line.startswith("basicai-async ")]
    assert len(lines) >= 6
    for words in lines:
        args = cli.build_parser().parse_args(words[1:])
        assert callable(args.handler), words


def test_an_interrupted_create_upload_suggests_resuming_with_dataset_not_create(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 10 #1: rerunning `--create NAME` fails with NAME_DUPLICATED, so users picked a new
    name and reused the manifest; the hint now names the dataset that was created."""
    _images(tmp_path / "imgs", 2)

    async def interrupted(*args: object, **kwargs: object) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Uploader, "upload", interrupted)
    manifest = tmp_path / "m.jsonl"
    argv = ["upload", str(tmp_path / "imgs"), "--create", "resume-hint", "--manifest", str(manifest)]
    assert cli.main(argv) == 130
    out, err = capsys.readouterr()
    dataset_id = int(out.split("created dataset ")[1].split()[0])
    last = err.strip().splitlines()[-1]
    assert f"upload {tmp_path / 'imgs'} --dataset {dataset_id} --manifest {manifest}" in last
    assert "--create" not in last


def test_an_unreadable_subdirectory_fails_the_upload_instead_of_being_skipped(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 10 #10: a subdirectory that could not be read was skipped silently."""
    _images(tmp_path / "imgs", 2)
    locked = tmp_path / "imgs" / "locked"
    _images(locked, 2)
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        # Tests run as root here, where chmod 000 does not lock anything out.
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert cli.main(["upload", str(tmp_path / "imgs"), "--create", "never-made"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    hint = "fix its permissions or leave it out with --pattern"
    assert err == [f"error: cannot read directory {locked}: Permission denied; {hint}"]


def test_a_resumed_progress_line_never_shows_more_done_than_in_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 10 #10: the resumed progress line showed "1000/600 files"."""
    with ConsoleProgress(plain=True) as progress:
        progress(UploadStarted(files=6, to_upload=2, bytes=2))
        for i in range(4):  # resumed from the manifest: settled before the PUTs start
            progress(FileDone(UploadResult(f"{i}.png", 1, ok=True, data_id=i + 1, resumed=True)))
        progress(FileDone(UploadResult("4.png", 1, ok=True, data_id=5)))
        progress(FileDone(UploadResult("5.png", 1, ok=True, data_id=6)))
    assert capsys.readouterr().err.strip().splitlines()[-1] == "6/6 files, 0.0 MB, 0 failed"


def test_upload_needs_a_source_or_a_url_list(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASICAI_API_KEY", "k")
    monkeypatch.setenv("BASICAI_BASE_URL", "http://127.0.0.1:9/api/v1")  # never reached
    assert cli.main(["upload", "--dataset", "1"]) == 1
    assert "nothing to upload" in capsys.readouterr().err
    listed = tmp_path / "urls.txt"
    listed.write_text("# a comment\nftp://host/x.png\n")
    assert cli.main(["upload", "--url-list", str(listed), "--dataset", "1"]) == 1
    assert "is not an http(s) URL" in capsys.readouterr().err
    assert cli.main(["upload", "gopher://x/y", "--dataset", "1"]) == 1
    assert "not a source this command reads" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_shard:
        cli.main(["upload", str(tmp_path), "--shard", "4/4", "--dataset", "1"])
    assert bad_shard.value.code == 2
    assert "0 <= I < N" in capsys.readouterr().err


def _dataset_ids_named(name: str) -> list[int]:
    async def ids() -> list[int]:
        async with AsyncBasicAI() as client:
            return [ds.id async for ds in client.datasets.list(name=name) if ds.name == name]

    return asyncio.run(ids())


def test_an_empty_directory_fails_before_the_dataset_is_created(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: `upload ./empty --create cars` created the dataset and exited 0 with "0 of 0"."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden.png").write_bytes(b"x")
    assert cli.main(["upload", str(tmp_path / "empty"), "--create", "cli-empty"]) == 1
    out, err = capsys.readouterr()
    assert "created dataset" not in out
    assert err.strip() == (
        f"error: nothing to upload: no file in {tmp_path / 'empty'}; dataset 'cli-empty' was not created"
    )
    assert _dataset_ids_named("cli-empty") == []
    _images(tmp_path / "empty", 1)
    pattern = ["--pattern", "*.jpg"]
    assert cli.main(["upload", str(tmp_path / "empty"), "--dataset", "1", *pattern]) == 1
    assert "nothing to upload: no file matching --pattern '*.jpg' in" in capsys.readouterr().err


def test_the_retry_hint_says_what_is_true_of_the_run(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: after a run that registered nothing, the hint warned of registering files twice."""
    _images(tmp_path / "imgs", 3)
    assert cli.main(["upload", str(tmp_path / "imgs"), "--dataset", "987654"]) == 1
    out, err = capsys.readouterr()
    assert "0 of 3 files registered" in out
    last = err.strip().splitlines()[-1]
    assert last == "no file was registered: once the cause above is fixed, rerunning the same command is safe"
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    assert cli.main(["upload", str(tmp_path / "imgs"), "--create", "cli-hint"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("3 files are registered: rerunning without a manifest would register them again")


def test_a_resumed_upload_never_draws_files_out_of_zero(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: a resumed upload's progress first showed "1/0 files"."""
    _images(tmp_path / "imgs", 4)
    argv = [
        "upload",
        str(tmp_path / "imgs"),
        "--create",
        "cli-resumed",
        "--manifest",
        str(tmp_path / "m.jsonl"),
    ]
    assert cli.main(argv) == 0
    dataset_id = int(capsys.readouterr().out.split("created dataset ")[1].split()[0])
    argv[2:4] = ["--dataset", str(dataset_id)]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert "4 of 4 files registered" in out
    counts = [(int(done), int(total)) for done, total in re.findall(r"(\d+)/(\d+) files", err)]
    assert counts
    assert counts[-1] == (4, 4)
    assert all(0 < done <= total == 4 for done, total in counts), err


def test_files_skipped_while_listing_are_counted_and_named(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: broken links and link loops vanished from an upload without a word."""
    imgs = tmp_path / "imgs"
    _images(imgs, 2)
    (imgs / "gone.png").symlink_to(tmp_path / "missing.png")
    (imgs / "loop.png").symlink_to(imgs / "loop.png")
    (tmp_path / "elsewhere").mkdir()
    (imgs / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (imgs / ".hidden-gone.png").symlink_to(tmp_path / "missing.png")  # hidden: left out on purpose
    assert cli.main(["upload", str(imgs), "--create", "cli-skipped"]) == 0
    out, err = capsys.readouterr()
    assert "2 of 2 files registered" in out
    assert "3 skipped while listing (named above)" in out
    assert (
        f"skipped 3 in {imgs} that cannot be uploaded: "
        f"gone.png (a broken symbolic link (to {tmp_path / 'missing.png'})), "
        "linked (a symbolic link to a directory (not followed)), loop.png (a symbolic link loop)"
    ) in err
    assert ".hidden" not in err


def test_console_progress_draws_no_files_line_before_the_upload_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 16: a file settled before ``UploadStarted`` (any consumer order) never draws "1/0 files"."""
    with ConsoleProgress(plain=True) as progress:
        progress(FileDone(UploadResult("0.png", 1, ok=True, data_id=1, resumed=True)))
        assert capsys.readouterr().err == ""
        progress(UploadStarted(files=2, to_upload=1, bytes=1))
        progress(FileDone(UploadResult("1.png", 1, ok=True, data_id=2)))
    assert "/0 files" not in capsys.readouterr().err


def test_an_sqlite_manifest_in_the_directory_is_left_out_and_resumes_the_upload(
    env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 17: a manifest not named *.jsonl is SQLite; it and its -wal/-shm files are not uploaded."""
    _images(tmp_path / "imgs", 5)
    manifest = tmp_path / "imgs" / "upload.db"
    argv = ["upload", str(tmp_path / "imgs"), "--create", "sqlite-manifest", "--manifest", str(manifest)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "5 of 5 files registered" in out
    dataset_id = out.split("created dataset ")[1].split()[0]
    again = ["upload", str(tmp_path / "imgs"), "--dataset", dataset_id, "--manifest", str(manifest)]
    assert cli.main(again) == 0
    assert "5 of 5 files registered" in capsys.readouterr().out
    with SqliteManifest(manifest) as journal:
        assert sorted(name for name, _ in journal.registered()) == [f"img-{i:03d}.png" for i in range(5)]
