"""Users' own tests can run the plugin's emulator in either dialect."""

from __future__ import annotations

import pytest

from basicai_async import AsyncBasicAI, UploadSource
from basicai_async.emulator import Emulator
from basicai_async.export import iter_results

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("basicai_dialect", ["guide", "xtreme1"])
async def test_the_plugin_emulator_speaks_the_dialect_asked_for(
    basicai_dialect: str, basicai_emulator: Emulator, basicai_client: AsyncBasicAI
) -> None:
    assert basicai_emulator.dialect == basicai_dialect
    ds = await basicai_client.datasets.create(name="plugin", type="IMAGE")
    report = await basicai_client.uploader().upload(ds.id, [UploadSource.from_bytes("a.png", b"png")])
    report.raise_for_failures()
    assert basicai_emulator.read_object(report.results[0].path or "") == b"png"
    [item] = [item async for item in basicai_client.items.list(ds.id)]
    assert item.is_data
    results = [result async for result in iter_results(basicai_client, ds.id)]
    assert {r.data_id for r in results} == {item.id}
    assert all(r.instances for r in results)
