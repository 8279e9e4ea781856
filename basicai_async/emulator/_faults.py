"""Fault injection: latency, 5xx answers, 429 storms, dropped connections, truncated bodies.

Off by default. A :class:`FaultRule` says how often each fault happens; one
rule can apply to every endpoint and others to single endpoints (an endpoint
rule replaces the global one for that endpoint). Endpoints are named by the
two path segments after ``/api/v1`` (``"dataset/create"``,
``"storage/batchGeneratePreSignedUploadUrl"``) and ``"store"`` for PUTs to the
object store. Decisions come from one ``random.Random(seed)``, one draw per
request, so a run with the same seed and the same request order injects the
same faults::

    emu.faults.set(FaultRule(error_rate=0.3, drop_after_rate=0.1), endpoint="dataset/addData")
    emu.faults.set(None)  # clear the global rule
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

__all__ = ["STORE_ENDPOINT", "Fault", "FaultRule", "Faults", "drop_connection", "error_response", "truncated"]

STORE_ENDPOINT = "store"
"""The endpoint name of the object store's PUTs."""


@dataclass(frozen=True, slots=True)
class FaultRule:
    """How often each fault happens on a request (rates are probabilities, summing to <= 1).

    - ``latency``: seconds added before the request is handled (always, not a rate);
    - ``error_rate``: answer one of ``error_statuses`` without acting (502/503/504
      come with an HTML body, as gateways send them);
    - ``rate_limit_rate``: answer 429 with ``Retry-After: retry_after`` (a "storm" at 1.0);
    - ``drop_before_rate``: close the connection before acting;
    - ``drop_after_rate``: act (state changes), then close without an answer;
    - ``truncate_rate``: act, then send only half of the body the headers promise.
    """

    latency: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503, 504)
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    drop_before_rate: float = 0.0
    drop_after_rate: float = 0.0
    truncate_rate: float = 0.0

    def __post_init__(self) -> None:
        rates = (
            self.error_rate,
            self.rate_limit_rate,
            self.drop_before_rate,
            self.drop_after_rate,
            self.truncate_rate,
        )
        if any(not 0.0 <= rate <= 1.0 for rate in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError("fault rates must be in [0, 1] and sum to at most 1")
        if self.latency < 0:
            raise ValueError("latency must be >= 0")
        if not self.error_statuses or any(not 500 <= status <= 599 for status in self.error_statuses):
            raise ValueError("error_statuses must be non-empty 5xx codes")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do with one request: ``kind`` is ``None`` (no fault) or one of
    ``"error"``, ``"rate_limit"``, ``"drop_before"``, ``"drop_after"``, ``"truncate"``."""

    latency: float = 0.0
    kind: str | None = None
    status: int = 0
    retry_after: int = 0


_NONE = Fault()


class Faults:
    """The fault rules of one emulator, changeable while it runs."""

    def __init__(
        self,
        rule: FaultRule | None = None,
        *,
        endpoints: Mapping[str, FaultRule] | None = None,
        seed: int = 0,
    ) -> None:
        self._global = rule
        self._endpoints: dict[str, FaultRule] = dict(endpoints or {})
        self._rng = random.Random(seed)
        self.injected: Counter[tuple[str, str]] = Counter()
        """How many faults were injected, by (endpoint, kind)."""

    def set(self, rule: FaultRule | None, endpoint: str | None = None) -> None:
        """Set (or with ``None`` clear) the global rule or one endpoint's rule."""
        if endpoint is None:
            self._global = rule
        elif rule is None:
            self._endpoints.pop(endpoint, None)
        else:
            self._endpoints[endpoint] = rule

    def clear(self) -> None:
        """Remove every rule: no more faults."""
        self._global = None
        self._endpoints.clear()

    def reseed(self, seed: int) -> None:
        """Restart the random sequence (to replay a run)."""
        self._rng.seed(seed)

    def rule_for(self, endpoint: str) -> FaultRule | None:
        """The rule in force for ``endpoint``."""
        return self._endpoints.get(endpoint, self._global)

    def decide(self, endpoint: str) -> Fault:
        """Draw the fault (if any) for one request to ``endpoint``."""
        rule = self.rule_for(endpoint)
        if rule is None:
            return _NONE
        draw = self._rng.random()
        kinds = (
            ("error", rule.error_rate),
            ("rate_limit", rule.rate_limit_rate),
            ("drop_before", rule.drop_before_rate),
            ("drop_after", rule.drop_after_rate),
            ("truncate", rule.truncate_rate),
        )
        for kind, rate in kinds:
            if draw < rate:
                self.injected[endpoint, kind] += 1
                status = self._rng.choice(rule.error_statuses) if kind == "error" else 0
                return Fault(rule.latency, kind, status, rule.retry_after)
            draw -= rate
        return Fault(rule.latency) if rule.latency else _NONE


_HTML = (
    "<html><head><title>{status} {reason}</title></head>"
    "<body><center><h1>{status} {reason}</h1></center><hr><center>nginx</center></body></html>"
)


def error_response(status: int) -> web.Response:
    """A 5xx answer as a gateway or a crashing server sends it: HTML, or plain text for 500."""
    reason = web.Response(status=status).reason
    if status == 500:
        return web.Response(status=500, text="500 Internal Server Error", content_type="text/plain")
    headers = {"Retry-After": "1"} if status == 503 else None
    body = _HTML.format(status=status, reason=reason)
    return web.Response(status=status, text=body, content_type="text/html", headers=headers)


def drop_connection(request: web.Request) -> web.Response:
    """Close the connection with no answer; the returned response is never sent."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=499)


async def truncated(request: web.Request, response: web.Response) -> web.StreamResponse:
    """Send ``response``'s headers promising its whole body, half of the body, then close."""
    body = response.body if isinstance(response.body, bytes) else b""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return stream
