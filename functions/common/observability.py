"""Logger and Metrics, built once per process and imported everywhere.

Logs carry subs, usernames' absence, attribute NAMES and counts; never attribute values (PII).

Freshness (docs/OPERATIONS.md) is two lag metrics in milliseconds, from the same EMF output:
`MirrorFreshness`, from a change in Cognito to its row landing in the mirror, with the writer path as
its one extra dimension (`path`), and `UserEventLag`, from a row's write (its stream record) to
PutEvents accepting its event. Only writes that landed are measured.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from models.user import now_us

SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME", "cognito-attribute-mirror")
NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE", "CognitoAttributeMirror")
# The writer paths of MirrorFreshness (a snapshot's `source`): its only dimension besides service.
FRESHNESS_PATHS = (
    "post_confirmation",
    "post_authentication",
    "attribute_sync",
    "reconcile",
    "backfill",
    "read_through",
)
PATH_DIMENSION = "path"
_EMF_VALUES = 100  # CloudWatch takes at most 100 values of one metric in one EMF blob

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
Handler = TypeVar("Handler", bound=Callable[..., Any])


def count_metric(name: str, value: int = 1) -> None:
    """Add `value` to the Count metric `name` (flushed with the invocation's other metrics)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


class LagMetric:
    """A lag in milliseconds, from a moment (µs since the epoch) to `clock()` (injectable).

    Values wait per path and leave as EMF blobs of up to 100 values (CloudWatch computes the
    percentiles from them): at the end of the invocation (`log_metrics`), or as soon as 100 wait.
    A process that is not a Lambda (the backfill CLI) keeps them instead, for its summary."""

    def __init__(self, name: str, *, dimension: str | None = None, clock: Callable[[], int] = now_us) -> None:
        self.name = name
        self.dimension = dimension
        self.clock = clock
        self._waiting: dict[str, list[float]] = {}
        self._kept: dict[str, list[float]] | None = None
        self._lock = threading.Lock()

    def landed(self, since_us: int, path: str = "") -> float:
        """Record the lag from `since_us` to now (never negative: clocks differ) and return it."""
        lag_ms = max(0.0, (self.clock() - since_us) / 1000)
        with self._lock:
            if self._kept is not None:
                self._kept.setdefault(path, []).append(lag_ms)
                return lag_ms
            values = self._waiting.setdefault(path, [])
            values.append(lag_ms)
            full = values if len(values) >= _EMF_VALUES else None
            if full is not None:
                del self._waiting[path]
        if full is not None:
            self._emit(path, full)
        return lag_ms

    def flush(self) -> None:
        """Print the waiting values as EMF (one blob per path and 100 values)."""
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for path, values in waiting.items():
            self._emit(path, values)

    @contextlib.contextmanager
    def kept(self) -> Iterator[dict[str, list[float]]]:
        """Within the block, keep every value (per path, in the dict yielded) instead of printing it:
        for a process that is not a Lambda, whose figures go into its own summary."""
        kept: dict[str, list[float]] = {}
        with self._lock:
            self._kept = kept
        try:
            yield kept
        finally:
            with self._lock:
                self._kept = None

    def _emit(self, path: str, values: list[float]) -> None:
        for start in range(0, len(values), _EMF_VALUES):
            blob = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
            if self.dimension is not None:
                blob.add_dimension(name=self.dimension, value=path)
            for value in values[start : start + _EMF_VALUES]:
                blob.add_metric(name=self.name, unit=MetricUnit.Milliseconds, value=value)
            if blob.metric_set:  # Powertools prints a blob by itself at its 100th value
                blob.flush_metrics()


mirror_freshness = LagMetric("MirrorFreshness", dimension=PATH_DIMENSION)
user_event_lag = LagMetric("UserEventLag")
LAG_METRICS = (mirror_freshness, user_event_lag)


def flush_lag_metrics() -> None:
    for lag in LAG_METRICS:
        lag.flush()


def log_metrics(handler: Handler) -> Handler:
    """`metrics.log_metrics`, and the lag metrics recorded during the invocation."""
    logged = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        try:
            return logged(event, context)
        finally:
            flush_lag_metrics()

    return wrapper  # type: ignore[return-value]


def lag_summary(values: list[float]) -> dict[str, float]:
    """Count, nearest-rank p50 and p99, and max of lags in ms (what a summary line shows)."""
    ordered = sorted(values)

    def rank(fraction: float) -> float:
        return ordered[max(1, math.ceil(fraction * len(ordered))) - 1] if ordered else 0.0

    return {
        "count": len(ordered),
        "p50_ms": round(rank(0.5), 1),
        "p99_ms": round(rank(0.99), 1),
        "max_ms": round(ordered[-1] if ordered else 0.0, 1),
    }


def loggable(value: Any, shape: re.Pattern[str]) -> str:
    """`value` when it has the expected shape, else only its type name: a value from outside
    (a trigger's source, a CloudTrail event id) may carry personal data, so it is logged only
    when it looks like what it claims to be."""
    if isinstance(value, str) and shape.fullmatch(value):
        return value
    return f"<{type(value).__name__}>"
