"""Read lag metrics back from CloudWatch EMF lines (what the functions print; Powertools' format).

The demo, the bench and the tests read the figures the way CloudWatch would: from the EMF blobs in a
log, wherever a line carries one (serverless-offline prefixes handler output with its own text).
Their percentiles: `functions.common.observability.lag_summary`, as the backfill CLI's summary.

    python -m scripts.emf .local/dev/logs/serverless-offline.log    # `make dev`'s figures so far
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_MARKER = '{"_aws"'
_decoder = json.JSONDecoder()


def blobs(text: str) -> list[dict[str, Any]]:
    """Every EMF blob in `text`, in order (a line may hold a prefix before the blob)."""
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        start = line.find(_MARKER)
        if start < 0:
            continue
        try:
            blob, _ = _decoder.raw_decode(line, start)
        except ValueError:
            continue
        if isinstance(blob, dict):
            found.append(blob)
    return found


def metric_values(text: str, name: str, dimension: str | None = None) -> dict[str, list[float]]:
    """The values of metric `name` per value of `dimension` ("" without one), in log order."""
    values: dict[str, list[float]] = {}
    for blob in blobs(text):
        names = {
            m.get("Name") for d in blob["_aws"].get("CloudWatchMetrics", ()) for m in d.get("Metrics", ())
        }
        if name not in names:
            continue
        raw: Any = blob.get(name, [])
        key = str(blob.get(dimension, "")) if dimension else ""
        values.setdefault(key, []).extend(float(v) for v in (raw if isinstance(raw, list) else [raw]))
    return values


def lag_figures(text: str) -> dict[str, dict[str, float]]:
    """The freshness of each writer path (`MirrorFreshness`) and the event lag (`UserEventLag`) in
    `text`: label -> count, p50, p99, max in ms."""
    from functions.common.observability import PATH_DIMENSION, lag_summary, mirror_freshness, user_event_lag

    figures = {
        path: lag_summary(values)
        for path, values in sorted(metric_values(text, mirror_freshness.name, PATH_DIMENSION).items())
    }
    events = metric_values(text, user_event_lag.name).get("")
    if events:
        figures["user events (row->bus)"] = lag_summary(events)
    return figures


def lag_line(label: str, figures: dict[str, float]) -> str:
    return (
        f"{label:<24} p50 {figures['p50_ms']:>8.1f} ms  p99 {figures['p99_ms']:>8.1f} ms  "
        f"max {figures['max_ms']:>8.1f} ms  ({figures['count']:.0f} values)"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m scripts.emf LOG...`: the lag figures in logs (e.g. the local stack's)."""
    paths = argv if argv is not None else sys.argv[1:]
    if not paths:
        print("usage: python -m scripts.emf LOG [LOG...]", file=sys.stderr)
        return 2
    text = "\n".join(Path(path).read_text(errors="replace") for path in paths)
    figures = lag_figures(text)
    for label, values in figures.items():
        print(lag_line(label, values))
    if not figures:
        print("no MirrorFreshness or UserEventLag lines yet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
