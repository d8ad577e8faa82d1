"""Read lag metrics back from CloudWatch EMF lines (what the functions print; Powertools' format).

The demo, the bench and the tests read the figures the way CloudWatch would: from the EMF blobs in a
log, wherever a line carries one (serverless-offline prefixes handler output with its own text).
Their percentiles: `functions.common.observability.lag_summary`, as the backfill CLI's summary.
"""

from __future__ import annotations

import json
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
