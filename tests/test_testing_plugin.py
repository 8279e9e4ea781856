"""The pytest plugin users get with the SDK: its fixtures arrive through the pytest11 entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from basicai_async import AsyncBasicAI, UploadSource
from basicai_async.emulator import Emulator
from basicai_async.testing import TEST_API_KEY, TEST_TEAM

# every_python: asyncio's lifecycle meets the interpreter here (see .ci/run).
pytestmark = [pytest.mark.integration, pytest.mark.every_python]


async def test_fixtures_give_a_client_on_a_running_emulator(
    basicai_emulator: Emulator, basicai_client: AsyncBasicAI
) -> None:
    assert str(basicai_client.base_url) == basicai_emulator.base_url
    ds = await basicai_client.datasets.create(name="plugin", type="IMAGE")
    report = await basicai_client.uploader().upload(ds.id, [UploadSource.from_bytes("a.png", b"png")])
    report.raise_for_failures()
    assert basicai_emulator.state.datasets[ds.id].team == TEST_TEAM
    assert basicai_emulator.read_object(report.results[0].path or "") == b"png"
    assert len(basicai_emulator.requests(TEST_API_KEY)) == 3
    assert basicai_emulator.max_window_count(TEST_API_KEY, 1.0) <= 100


async def test_each_test_gets_a_fresh_emulator(basicai_emulator: Emulator) -> None:
    assert basicai_emulator.state.datasets == {}
    assert basicai_emulator.requests(TEST_API_KEY) == []


def test_the_plugin_is_loaded_from_the_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("basicai_async")
    assert plugin is not None
    assert plugin.__name__ == "basicai_async.testing"


def test_loading_the_plugin_does_not_import_the_emulator() -> None:
    # Every pytest run of a project that installs the SDK loads the plugin.
    code = "import sys, basicai_async.testing; print('basicai_async.emulator' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
