"""Whether a client records OpenTelemetry: ``_otel`` is imported here, and only here, when installed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from ..ratelimit import Limiter
    from ._otel import Telemetry

__all__ = ["load_telemetry"]

_missing = False  # remembered: a failed import would search sys.path again for every client


def load_telemetry(
    *,
    base_url: str,
    limiter: Limiter,
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
) -> Telemetry | None:
    """The client's telemetry, or None: OpenTelemetry not installed, or both providers no-op.

    Providers passed without ``opentelemetry-api`` installed raise ``ConfigurationError``.
    """
    global _missing
    if not _missing:
        try:
            from ._otel import Telemetry
        except ImportError:
            _missing = True
    if _missing:
        if tracer_provider is not None or meter_provider is not None:
            raise ConfigurationError(
                "tracer_provider/meter_provider need OpenTelemetry: pip install 'basicai-async[otel]'"
            )
        return None
    from .. import __version__

    telemetry = Telemetry(
        base_url=base_url,
        limiter=limiter,
        version=__version__,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    return telemetry if telemetry.enabled else None
