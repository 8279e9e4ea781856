"""CI's view of the supported Pythons: which ones this machine has, and what each run said.

``python .ci/pythons.py find`` prints one line per supported version other than
the running interpreter's (the one ``make test`` uses): ``3.12 /path/to/python``
when found, ``3.13 missing`` when not. The supported versions are the
classifiers in pyproject.toml, so the list users read is the list CI tests.
An interpreter is looked for on PATH (``python3.12``) and in pyenv's versions
(the newest patch release), and counts as found only when it runs and says it
is that version (a pyenv shim for a version that is not selected does not).

``python .ci/pythons.py recap LOG...`` prints the pytest summary line of each
log, then one closing line adding them up (``N passed, N failed``).

Standard library only: it runs before any venv exists.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)$")
_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


def supported() -> list[str]:
    """The ``3.X`` versions pyproject.toml's classifiers name, in order."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = (_CLASSIFIER.match(c) for c in project.get("classifiers", []))
    return sorted({m.group(1) for m in found if m}, key=lambda v: tuple(map(int, v.split("."))))


def _reports(python: str, version: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def _pyenv_candidates(version: str) -> list[str]:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    if shutil.which("pyenv"):
        done = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            root = Path(done.stdout.strip())
    releases = [p for p in (root / "versions").glob(f"{version}.*") if re.fullmatch(r"\d+\.\d+\.\d+", p.name)]
    releases.sort(key=lambda p: tuple(map(int, p.name.split("."))), reverse=True)
    return [str(p / "bin" / f"python{version}") for p in releases]


def find(version: str) -> str | None:
    """A working interpreter of ``version`` on PATH or in pyenv, or None."""
    on_path = shutil.which(f"python{version}")
    for candidate in [*([on_path] if on_path else []), *_pyenv_candidates(version)]:
        if _reports(candidate, version):
            return candidate
    return None


def recap(logs: list[str]) -> int:
    """Each log's pytest summary line, then their sum; 1 when a log has none or counts a failure."""
    totals: dict[str, int] = {}
    status = 0
    for log in logs:
        text = Path(log).read_text(errors="replace") if Path(log).exists() else ""
        lines = [line.strip("= ") for line in text.splitlines() if _COUNTS.search(line) and " in " in line]
        summary = lines[-1] if lines else "no pytest summary line"
        print(f"ci: {Path(log).stem}: {summary}")
        if not lines:
            status = 1
        for count, word in _COUNTS.findall(summary):
            word = {"error": "errors"}.get(word, word)
            totals[word] = totals.get(word, 0) + int(count)
    if totals.get("failed") or totals.get("errors"):
        status = 1
    closing = f"{totals.get('passed', 0)} passed, {totals.get('failed', 0)} failed"
    if totals.get("errors"):
        closing += f", {totals['errors']} errors"
    print(f"all: {closing}")
    return status


def main(argv: list[str]) -> int:
    if argv[:1] == ["find"]:
        mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
        for version in supported():
            if version != mine:
                print(version, find(version) or "missing")
        return 0
    if argv[:1] == ["recap"]:
        return recap(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
