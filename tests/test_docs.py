"""The documentation's own rules: every block is run or says why not, and the reference is complete.

The blocks themselves run through Sybil (``conftest.py`` at the repository's root).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUN = {"python", "sh"}
# Not code: shown, or saved as a file by a `<!-- file: NAME -->` mark and used by a later block.
DATA = {"text", "toml", "yaml", "json"}
MARK = re.compile(r"<!--\s*(not run|file):\s*\S")


def _blocks(path: Path) -> list[tuple[int, str, str]]:
    """(line, language, the line before) of each fenced block of a Markdown file."""
    lines = path.read_text().splitlines()
    found, inside = [], False
    for number, line in enumerate(lines, start=1):
        if line.startswith("```"):
            if not inside:
                before = next((p for p in reversed(lines[: number - 1]) if p.strip()), "")
                found.append((number, line[3:].strip(), before))
            inside = not inside
    assert not inside, f"{path}: a code fence is not closed"
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_has_a_known_language_and_marks_say_why(page: Path) -> None:
    for line, language, before in _blocks(page):
        assert language in RUN | DATA, (
            f"{page.name}:{line}: fence language {language!r} (use one of {RUN | DATA})"
        )
        if "<!--" in before and ("not run" in before or "file:" in before):
            assert MARK.search(before), f"{page.name}:{line}: a mark needs a reason or a file name: {before}"


def test_the_readme_is_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    assert readme.splitlines()[0] == "# basicai-async"
    for page in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / page).is_file(), page


# The packages whose reference pages document every name of their __all__.
PACKAGES = [
    "basicai_async._errors",
    "basicai_async.emulator",
    "basicai_async.export",
    "basicai_async.formats",
    "basicai_async.geometry",
    "basicai_async.models",
    "basicai_async.pagination",
    "basicai_async.plugin",
    "basicai_async.ratelimit",
    "basicai_async.resources",
    "basicai_async.telemetry",
    "basicai_async.testing",
]


def _documented() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "docs" / "reference").glob("*.md"))


@pytest.mark.parametrize(
    "module", ["basicai_async", "basicai_async.plugin", "basicai_async.emulator", "basicai_async.testing"]
)
def test_every_public_name_is_in_the_reference(module: str) -> None:
    reference = _documented()
    names = importlib.import_module(module).__all__
    for name in names:
        if name.startswith("__"):
            continue
        # Documented by name, or on the page of a public package that exports it.
        pages = [f"::: {module}.{name}\n"] + [
            f"::: {package}\n"
            for package in PACKAGES
            if name in getattr(importlib.import_module(package), "__all__", ())
        ]
        assert any(page in reference for page in pages), f"{module}.{name} is in no page of docs/reference/"
