"""Read the EMF metrics the handlers print (Powertools flushes them to stdout)."""

from __future__ import annotations

import json
from collections import Counter


def emitted(stdout: str) -> Counter[str]:
    """Metric name -> total value, over every EMF blob in `stdout`."""
    totals: Counter[str] = Counter()
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = blob.get(metric["Name"], 0)
                totals[metric["Name"]] += int(sum(values) if isinstance(values, list) else values)
    return totals
