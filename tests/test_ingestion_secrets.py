"""A faulty upload leaks nothing: every log line, result, event, manifest line and exception chain grepped.

Issue 10 #5 and SECURITY.md section 2: faults are injected everywhere (API and
storage: 5xx, dropped connections before and after acting, truncated answers)
with retries cut short, so many files fail and every error path writes text.
Then the API key and every signature value handed out are searched for in all
of it: the PUT URLs' and, in the xtreme1 dialect, the signed ``accessUrl`` each
file is registered under (as BasicAI's platform answers), which the server's
refusals quote back (a text file refused in an image dataset names its path).
The emulator's own server-side log lines are the server's, not the SDK's, and
are left out (a real server logs its own requests too).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from basicai_async import AsyncBasicAI, Limits, RetryPolicy, UploadSource, Window
from basicai_async._manifest import Manifest
from basicai_async.emulator import STORE_ENDPOINT, Emulator, FaultRule, Faults
from basicai_async.models import PresignedUpload, PresignRequest
from basicai_async.resources import Storage

pytestmark = pytest.mark.integration

KEY = "sk-GREP-ME-91c2e7d4-secret"
RULE = FaultRule(
    error_rate=0.15, drop_before_rate=0.05, drop_after_rate=0.1, truncate_rate=0.1, rate_limit_rate=0.02
)
SERVER_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web", "basicai_async.emulator")


def _chain_texts(exc: BaseException | None) -> list[str]:
    texts: list[str] = []
    seen: set[int] = set()
    todo = [exc]
    while todo:
        one = todo.pop()
        if one is None or id(one) in seen:
            continue
        seen.add(id(one))
        texts += [str(one), repr(one), repr(one.args), repr(getattr(one, "__dict__", {}))]
        todo += [one.__cause__, one.__context__]
    return texts


async def test_a_faulty_upload_leaks_neither_key_nor_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    signatures: set[str] = set()
    access_signatures: set[str] = set()
    events: list[object] = []
    real = Storage.presign_uploads

    async def presign(self: Storage, files: Sequence[PresignRequest]) -> list[PresignedUpload]:
        answer = await real(self, files)
        for upload in answer:
            query = parse_qs(urlsplit(upload.pre_signed_url).query)
            signatures.update(query["Signature"])
            access = parse_qs(urlsplit(upload.register_path).query)
            access_signatures.update(access.get("X-Amz-Signature", []))
        return answer

    monkeypatch.setattr(Storage, "presign_uploads", presign)
    caplog.set_level(logging.DEBUG, logger="basicai_async")
    caplog.set_level(logging.DEBUG, logger="aiohttp")

    faults = Faults(seed=10)
    manifest = tmp_path / "upload.jsonl"
    sources = [UploadSource.from_bytes(f"leak-{i:03d}.png", b"png %d" % i * 16) for i in range(200)]
    # Refused at registration by a message that quotes the path it was registered under.
    sources.insert(50, UploadSource.from_bytes("notes.txt", b"not an image"))
    fast = RetryPolicy(max_retries=1, backoff_start=0.001, backoff_cap=0.002)
    async with Emulator({KEY: "team"}, limits=None, faults=faults) as emu:
        async with AsyncBasicAI(
            KEY, base_url=emu.base_url, limits=Limits((Window(10**6, 1.0),)), retry=fast
        ) as client:
            ds = await client.datasets.create(name="leaks", type="IMAGE")
            faults.set(RULE)
            faults.set(RULE, endpoint=STORE_ENDPOINT)
            reports = [
                await client.uploader(put_retries=0, on_event=events.append).upload(
                    ds.id, sources, manifest=manifest
                )
                for _ in range(2)
            ]
            # The refusal that quotes the registered path, whatever the faults did to notes.txt
            # (a PUT that failed twice never reached it): once more without faults.
            faults.clear()
            notes = [s for s in sources if s.name == "notes.txt"]
            reports.append(
                await client.uploader(on_event=events.append).upload(ds.id, notes, manifest=manifest)
            )
        injected = sum(faults.injected.values())

    results = [r for report in reports for r in report.results]
    failed = [r for r in results if not r.ok]
    # The test means something only if the faults made the error paths write text.
    assert injected >= 50
    assert len(failed) >= 20
    assert {r.stage for r in failed} >= {"put"}
    assert signatures
    if emu.dialect == "xtreme1":
        # Every file registered under its signed accessUrl, exactly as received.
        assert len(access_signatures) >= 200
        registered = [f.path for item in emu.state.datasets[ds.id].items.values() for f in item.files]
        assert registered
        assert all(urlsplit(path).query for path in registered)
        assert "notes.txt" in {r.name for r in failed if r.stage == "register"}
    signatures |= access_signatures

    texts: list[str] = [manifest.read_text()]
    with Manifest(manifest) as journal:
        texts += [repr(e) for e in journal.entries()]
    for result in results:
        texts += [repr(result), str(result.path), result.error or "", *_chain_texts(result.exception)]
    texts += [repr(event) for event in events]
    for report in reports:
        try:
            report.raise_for_failures()
        except Exception as exc:
            texts += _chain_texts(exc)
    formatter = logging.Formatter("%(name)s %(message)s")
    client_records = [r for r in caplog.records if not r.name.startswith(SERVER_LOGGERS)]
    assert any(r.name == "basicai_async" for r in client_records)  # DEBUG lines were captured
    texts += [formatter.format(record) for record in client_records]

    for text in texts:
        assert KEY not in text
        for signature in signatures:
            assert signature not in text, text
