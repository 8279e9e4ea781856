"""What the SDK costs the client process per call, against raw aiohttp + ``json.loads`` on the same URLs.

The emulator runs in a separate process (limits off), so the server's work is
the same for both sides and lands on another core; what is measured is the
CPU time of *this* process (``time.process_time``) per unit of work, which other
load on the machine disturbs far less than wall-clock throughput does:

- small: ``client.datasets.get(id)`` vs a raw GET of ``/dataset/info/{id}``;
  ``small_cpu_ratio`` = raw CPU / ours per call (target >= 0.90);
- pages: ``client.items.list(ds, page_size=100)`` consuming every 100-item page
  of a 3,000-item dataset vs raw GETs + ``json.loads`` of the same pages;
  ``page_cpu_ratio`` = raw CPU / ours per page (target >= 1.15);
- otel: the small call with the OpenTelemetry SDK configured as a service would
  (a ``TracerProvider`` with a ``BatchSpanProcessor`` and a ``MeterProvider``
  with a ``PeriodicExportingMetricReader``, both exporting to a no-op exporter)
  vs the same client without OpenTelemetry (OpenTelemetry's no-op providers: the
  pipeline then takes the path it takes when the extra is not installed);
  ``otel_cpu_ratio`` = traced CPU / untraced per call (target <= 1.15);
- floor: what the same SDK costs at the least for what the issue asks per attempt
  (a span and a ``http.client.request.duration`` point): the untraced call, then
  an empty span and one histogram point without attributes, made in bursts of 64
  as the client makes its own; ``otel_floor_cpu_ratio`` = that CPU / untraced
  per call. It tells what of ``otel_cpu_ratio`` is the SDK's whatever we do.

Each round runs both sides back to back (alternating who goes first); a ratio
is the median of the rounds' ratios. Throughputs are printed for reference.
The last line printed is one JSON object.

Usage: ``python benchmarks/client_overhead.py [--rounds 9] [--requests 2000] [--listings 1]
[--concurrency 32]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from basicai_async import AsyncBasicAI
from basicai_async.ratelimit import ExactLimiter, Limits, Window

KEY = "bench-key"
ITEMS = 3000
PAGE = 100
# Never waits at these rates, yet runs the same acquire() fast path every call pays.
# (Not Window(10**9, ...): ExactLimiter keeps one ring slot per admission of its largest window.)
NO_LIMIT = Limits((Window(1_000_000, 1.0),))


class NoOpSpanExporter(SpanExporter):
    """Takes the spans and drops them: the SDK's whole cost, no backend's."""

    def export(self, spans: object) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class NoOpMetricExporter(MetricExporter):
    """Takes the metrics and drops them."""

    def export(
        self, metrics_data: object, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        pass


def otel_sdk() -> tuple[TracerProvider, MeterProvider]:
    """The SDK as ``opentelemetry-instrument`` sets it up, exporting nowhere."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(NoOpSpanExporter()))
    reader = PeriodicExportingMetricReader(NoOpMetricExporter())  # the SDK's default: every 60 s
    return tracer_provider, MeterProvider(metric_readers=[reader])


# The otel side's "ours" is the traced client, its "raw" the same client untraced.
_NAMES = {"ours_otel": "traced_small", "raw_otel": "untraced_small", "ours_floor": "sdk_floor_small"}
# The floor's untraced side is the otel side's again: reported once.
_UNREPORTED = {"raw_floor"}
# The client hands its attempts to OpenTelemetry this many at a time (telemetry._otel._BURST).
FLOOR_BURST = 64


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    """The emulator in its own process; its first stdout line is the base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "basicai_async", "emulator", "--port", "0", "--api-key", KEY, "--no-limits"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"the emulator did not start: {base_url!r}")
    return proc, base_url


async def seed(http: aiohttp.ClientSession, base_url: str, headers: dict[str, str]) -> tuple[int, int]:
    """A small dataset for info calls and one holding ITEMS data items for page calls."""

    async def ok(method: str, path: str, body: object = None) -> object:
        async with http.request(method, base_url + path, json=body, headers=headers) as resp:
            envelope = await resp.json()
        assert envelope["code"] == "OK", envelope
        return envelope["data"]

    small = await ok("POST", "/dataset/create", {"name": "small", "type": "IMAGE"})
    big = await ok("POST", "/dataset/create", {"name": "big", "type": "IMAGE"})
    assert isinstance(small, dict)
    assert isinstance(big, dict)
    content = b"\xff\xd8bench"
    signed = await ok("POST", "/storage/batchGeneratePreSignedUploadUrl", [{"filename": "a.jpg", "size": 7}])
    assert isinstance(signed, list)
    async with http.put(signed[0]["preSignedUrl"], data=content) as resp:
        assert resp.status == 200
    file = {"path": signed[0]["path"], "size": len(content), "mimeType": "image/jpeg"}
    for chunk in range(ITEMS // 100):
        body = [{"name": f"d{chunk}-{i}", "files": [file]} for i in range(100)]
        await ok("POST", f"/dataset/batchAddData/{big['id']}", body)
    return small["id"], big["id"]


async def timed(concurrency: int, per_task: int, one: Callable[[], Awaitable[int]]) -> tuple[float, float]:
    """(units per second, this process's CPU microseconds per unit) with ``concurrency`` tasks
    each running ``one`` ``per_task`` times.

    The CPU figure is the client's own cost, far less disturbed by other load on
    the machine than the wall-clock throughput.
    """

    async def worker() -> int:
        done = 0
        for _ in range(per_task):
            done += await one()
        return done

    started, cpu = time.perf_counter(), time.process_time()
    units = sum(await asyncio.gather(*(worker() for _ in range(concurrency))))
    return units / (time.perf_counter() - started), (time.process_time() - cpu) / units * 1e6


async def run(args: argparse.Namespace) -> dict[str, object]:
    proc, base_url = start_emulator()
    try:
        headers = {"Authorization": f"ApiKey {KEY}", "Accept": "application/json"}
        connector = aiohttp.TCPConnector(limit=100)
        tracer_provider, meter_provider = otel_sdk()
        async with (
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http,
            AsyncBasicAI(KEY, base_url=base_url, limiter=ExactLimiter(NO_LIMIT, max_wait=None)) as client,
            AsyncBasicAI(
                KEY,
                base_url=base_url,
                limiter=ExactLimiter(NO_LIMIT, max_wait=None),
                tracer_provider=trace.NoOpTracerProvider(),
                meter_provider=metrics.NoOpMeterProvider(),
            ) as untraced,
            AsyncBasicAI(
                KEY,
                base_url=base_url,
                limiter=ExactLimiter(NO_LIMIT, max_wait=None),
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
            ) as traced,
        ):
            assert untraced.telemetry is None  # the path taken without the extra installed
            assert traced.telemetry is not None
            small_id, big_id = await seed(http, base_url, headers)
            info_url = f"{base_url}/dataset/info/{small_id}"
            page_urls = [
                f"{base_url}/dataset/listItem/{big_id}?pageNo={n}&pageSize={PAGE}"
                for n in range(1, ITEMS // PAGE + 1)
            ]

            async def ours_small() -> int:
                await client.datasets.get(small_id)
                return 1

            async def untraced_small() -> int:
                await untraced.datasets.get(small_id)
                return 1

            async def traced_small() -> int:
                await traced.datasets.get(small_id)
                return 1

            floor_tracer = tracer_provider.get_tracer("floor")
            floor_points = meter_provider.get_meter("floor").create_histogram("floor.duration", unit="s")
            held: list[float] = []

            async def floor_small() -> int:
                started = time.perf_counter()
                await untraced.datasets.get(small_id)
                held.append(time.perf_counter() - started)
                if len(held) >= FLOOR_BURST:
                    for elapsed in held:
                        floor_tracer.start_span("floor").end()
                        floor_points.record(elapsed)
                    held.clear()
                return 1

            async def raw_small() -> int:
                async with http.get(info_url, headers=headers) as resp:
                    json.loads(await resp.read())
                return 1

            async def ours_pages() -> int:
                # One full listing: its pages are the unit counted.
                count = 0
                async for _ in client.items.list(big_id, page_size=PAGE):
                    count += 1
                assert count == ITEMS
                return ITEMS // PAGE

            async def raw_pages() -> int:
                for url in page_urls:
                    async with http.get(url, headers=headers) as resp:
                        json.loads(await resp.read())
                return len(page_urls)

            per_task = max(1, args.requests // args.concurrency)
            listings = args.listings
            print(
                f"emulator at {base_url} (separate process, limits off); concurrency {args.concurrency}; "
                f"small: {per_task * args.concurrency} requests per round; "
                f"pages: {listings * len(page_urls) * args.concurrency} 100-item pages per round",
                flush=True,
            )
            print(
                "our client's limiter: ExactLimiter(Limits((Window(1_000_000, 1.0),))) -- never waits here, "
                "but every call still runs its acquire()",
                flush=True,
            )
            # Warm-up: connections open, decoders built, code paths hot.
            await timed(args.concurrency, 4, ours_small)
            await timed(args.concurrency, 4, raw_small)
            await timed(args.concurrency, 1, ours_pages)
            await timed(args.concurrency, 1, raw_pages)
            await timed(args.concurrency, 4, untraced_small)
            await timed(args.concurrency, 4, traced_small)
            await timed(args.concurrency, 4, floor_small)

            sides = {
                "small": (lambda: timed(args.concurrency, per_task, ours_small), raw_small, per_task),
                "pages": (lambda: timed(args.concurrency, listings, ours_pages), raw_pages, listings),
                # "raw" here is the client without OpenTelemetry, "ours" the same with the SDK.
                "otel": (lambda: timed(args.concurrency, per_task, traced_small), untraced_small, per_task),
                "floor": (lambda: timed(args.concurrency, per_task, floor_small), untraced_small, per_task),
            }
            ratios: dict[str, list[float]] = {"small": [], "pages": [], "otel": [], "floor": []}
            cpu: dict[str, list[float]] = {
                "ours_small": [],
                "raw_small": [],
                "ours_pages": [],
                "raw_pages": [],
                "ours_otel": [],
                "raw_otel": [],
                "ours_floor": [],
                "raw_floor": [],
            }
            for round_no in range(args.rounds):
                line = []
                for what, (ours, raw_one, per) in sides.items():
                    # Back to back, alternating who goes first: both sides of one ratio
                    # meet the same load from the rest of the machine.
                    if round_no % 2 == 0:
                        ours_rate, ours_cpu = await ours()
                        raw_rate, raw_cpu = await timed(args.concurrency, per, raw_one)
                    else:
                        raw_rate, raw_cpu = await timed(args.concurrency, per, raw_one)
                        ours_rate, ours_cpu = await ours()
                    ratios[what].append(raw_cpu / ours_cpu)
                    cpu[f"ours_{what}"].append(ours_cpu)
                    cpu[f"raw_{what}"].append(raw_cpu)
                    line.append(
                        f"{what}: CPU ours {ours_cpu:5.0f} us raw {raw_cpu:5.0f} us "
                        f"({raw_cpu / ours_cpu:.2f}); {ours_rate:5.0f}/s vs {raw_rate:5.0f}/s"
                    )
                print(f"round {round_no + 1}: " + " | ".join(line), flush=True)
            print(
                "client CPU per unit (median): "
                + ", ".join(f"{name} {statistics.median(values):.0f} us" for name, values in cpu.items()),
                flush=True,
            )
            print("ratios are the median of the rounds' raw/ours CPU-per-unit ratios", flush=True)
        tracer_provider.shutdown()
        meter_provider.shutdown()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "benchmark": "client_overhead",
        "small_cpu_ratio": round(statistics.median(ratios["small"]), 3),
        "page_cpu_ratio": round(statistics.median(ratios["pages"]), 3),
        # Traced over untraced, so <= 1.15 is the target (the other ratios are raw over ours).
        "otel_cpu_ratio": round(1 / statistics.median(ratios["otel"]), 3),
        "otel_floor_cpu_ratio": round(1 / statistics.median(ratios["floor"]), 3),
        **{
            f"{_NAMES.get(name, name)}_cpu_us": round(statistics.median(values), 1)
            for name, values in cpu.items()
            if name not in _UNREPORTED
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds (default 9)")
    parser.add_argument(
        "--requests", type=int, default=2000, help="small requests per side per round (default 2000)"
    )
    parser.add_argument("--listings", type=int, default=1, help="full 30-page listings per task per round")
    parser.add_argument("--concurrency", type=int, default=32, help="tasks per side (default 32)")
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
