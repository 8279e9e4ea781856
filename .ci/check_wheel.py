"""The artifact a user installs, checked as a user meets it.

``python .ci/check_wheel.py WORKDIR`` (with the dev venv's Python: it needs
``build`` and ``twine``):

1. builds the sdist, and the wheel from the sdist (``python -m build``), so a
   file missing from the sdist shows up as a broken wheel;
2. ``twine check --strict`` on both (metadata, the README as rendered by an index);
3. the wheel's contents: ``py.typed``, the Redis Lua script, the licence, no tests,
   and a classifier for each Python CI tests;
4. installs the wheel (and pytest, pytest-asyncio) into a fresh venv in WORKDIR,
   outside the checkout, and from there runs ``basicai-async --help``, the
   README's first Python example against the emulator the wheel ships (started
   with the wheel's own ``basicai-async emulator``), and the README's pytest
   example as a test of a user's own project (the fixtures arrive through the
   ``pytest11`` entry point, under ``filterwarnings = error``).

Everything it runs gets an environment without ``PYTHONPATH`` and without
``BASICAI_*``, and a working directory outside the checkout, so only the
installed wheel can be imported. Exits non-zero at the first failed step.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pythons import supported  # noqa: E402 (a sibling script, not a package)

KEY = "ci-wheel-key"
_FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


class StepFailed(Exception):
    pass


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("BASICAI_")}
    env.update(extra)
    return env


def run(argv: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command; its output (stdout and stderr together) is returned, or shown when it fails."""
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env or _env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise StepFailed(f"{' '.join(map(str, argv))} exited {done.returncode}:\n{done.stdout}")
    return done.stdout


_last = [time.monotonic()]


def step(name: str) -> None:
    """Say what starts now, and how long the previous step took."""
    now = time.monotonic()
    print(f"wheel: ({now - _last[0]:.0f}s) {name}", flush=True)
    _last[0] = now


def readme_python_blocks() -> list[str]:
    return _FENCE.findall((ROOT / "README.md").read_text())


def build(work: Path) -> tuple[Path, Path]:
    step("building the sdist, and the wheel from it")
    dist = work / "dist"
    run([sys.executable, "-m", "build", "--outdir", dist, ROOT], cwd=work)
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    step(f"twine check --strict {sdist.name} {wheel.name}")
    print(
        run(
            [sys.executable, "-m", "twine", "--no-color", "check", "--strict", sdist, wheel], cwd=work
        ).strip()
    )
    return sdist, wheel


def check_contents(wheel: Path) -> None:
    step("contents: py.typed, the Lua script, the licence, the classifiers, no tests")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = archive.read(metadata).decode()
    wanted = {
        "py.typed": "basicai_async/py.typed",
        "the Redis limiter's Lua script": "basicai_async/ratelimit/_ring.lua",
    }
    problems = [f"no {what} ({path})" for what, path in wanted.items() if path not in names]
    if not any(re.search(r"\.dist-info/licen[cs]es?/LICEN[CS]E$", n) for n in names):
        problems.append("no licence file in .dist-info/licenses/")
    strays = [n for n in names if n.startswith(("tests/", ".ci/", "benchmarks/"))]
    if strays:
        problems.append(f"files that are not the package: {strays[:5]}")
    for version in supported():
        if f"Classifier: Programming Language :: Python :: {version}\n" not in meta:
            problems.append(f"no classifier for Python {version}")
    if problems:
        raise StepFailed("the wheel lacks what users need: " + "; ".join(problems))


def install(work: Path, wheel: Path) -> Path:
    step("installing the wheel into a fresh venv outside the checkout")
    venv = work / "user-venv"
    run([sys.executable, "-m", "venv", venv], cwd=work)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-compile"]
    run([*pip, wheel, "pytest", "pytest-asyncio"], cwd=work)
    where = run(
        [venv / "bin" / "python", "-c", "import basicai_async; print(basicai_async.__file__)"], cwd=work
    )
    if not Path(where.strip()).is_relative_to(venv):
        raise StepFailed(f"basicai_async was imported from {where.strip()}, not from the venv")
    return venv


def cli_help(venv: Path, work: Path) -> None:
    step("basicai-async --help")
    out = run([venv / "bin" / "basicai-async", "--help"], cwd=work)
    if not out.startswith("usage: basicai-async"):
        raise StepFailed(f"unexpected --help output:\n{out}")


def readme_example(venv: Path, work: Path) -> None:
    step("the README's first Python example, against the wheel's emulator")
    here = work / "readme-example"
    (here / "images").mkdir(parents=True)
    (here / "example.py").write_text(readme_python_blocks()[0])
    # The emulator stores whatever bytes it is sent; the wheel's own sample images do.
    run(
        [
            venv / "bin" / "python",
            "-c",
            "import sys; from pathlib import Path; from basicai_async.emulator import sample_png\n"
            "for i in range(3): Path(sys.argv[1], f'car{i}.jpg').write_bytes(sample_png(i, size=8))",
            here / "images",
        ],
        cwd=here,
    )
    emulator = subprocess.Popen(
        [venv / "bin" / "basicai-async", "emulator", "--port", "0", "--api-key", KEY],
        cwd=here,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise StepFailed(f"the emulator did not start: {url}")
        out = run(
            [venv / "bin" / "python", "example.py"],
            cwd=here,
            env=_env(BASICAI_API_KEY=KEY, BASICAI_BASE_URL=url),
        )
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    printed = sorted(line.split()[0] for line in out.splitlines() if line.strip())
    if printed != ["car0.jpg", "car1.jpg", "car2.jpg"]:
        raise StepFailed(f"the example printed:\n{out}")
    print("  " + out.strip().replace("\n", "\n  "))


def user_project_test(venv: Path, work: Path, log: Path) -> None:
    step("the README's pytest example, as a test of a user's own project")
    project = work / "user-project"
    (project / "tests").mkdir(parents=True)
    [test] = [block for block in readme_python_blocks() if "def test_" in block][:1]
    (project / "tests" / "test_ingest.py").write_text(test)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "user-project"\nversion = "0"\n\n'
        "[tool.pytest.ini_options]\n"
        'asyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"\n'
        'filterwarnings = ["error"]\n'
    )
    done = subprocess.run(
        [venv / "bin" / "pytest", "-p", "no:cacheprovider", "-ra"],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    log.write_text(done.stdout)
    print(done.stdout.strip())
    if done.returncode != 0:
        raise StepFailed(f"the user's project's test failed (pytest exited {done.returncode})")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    work = Path(argv[0]).resolve()
    if work.is_relative_to(ROOT):
        print("error: WORKDIR must be outside the checkout", file=sys.stderr)
        return 2
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        _, wheel = build(work)
        check_contents(wheel)
        venv = install(work, wheel)
        cli_help(venv, work)
        readme_example(venv, work)
        user_project_test(venv, work, work / "wheel-user-project.log")
    except StepFailed as exc:
        print(f"wheel: FAILED: {exc}", flush=True)
        return 1
    print(f"wheel: OK in {time.monotonic() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
