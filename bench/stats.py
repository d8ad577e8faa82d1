"""Timing loops, summaries (median, p99, min/max), figures with goals, the table and the JSON."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6}


def timed(
    fn: Callable[[], object], samples: int, *, warmup: int = 0, max_seconds: float = 60.0
) -> list[float]:
    """Durations (s) of `samples` calls of `fn` after `warmup` calls; stops early at `max_seconds`."""
    for _ in range(warmup):
        fn()
    out: list[float] = []
    deadline = time.monotonic() + max_seconds
    clock = time.perf_counter
    while len(out) < samples and time.monotonic() < deadline:
        start = clock()
        fn()
        out.append(clock() - start)
    return out


def interleaved(
    calls: Mapping[str, Callable[[], object]],
    samples: int,
    *,
    warmup: int = 0,
    max_seconds: float = 60.0,
    before: Mapping[str, Callable[[], object]] | None = None,
) -> dict[str, list[float]]:
    """Durations (s) of several calls timed in rounds, the order rotating each round, so all of
    them see the same machine noise. `before[name]` runs untimed ahead of each call of `name`
    (e.g. to empty a cache). Stops early at `max_seconds`."""
    names = list(calls)
    prepare = before or {}
    out: dict[str, list[float]] = {name: [] for name in names}
    deadline = time.monotonic() + max_seconds
    clock = time.perf_counter
    for n in range(warmup + samples):
        if n >= warmup and time.monotonic() >= deadline:
            break
        shift = n % len(names)
        for name in names[shift:] + names[:shift]:
            if name in prepare:
                prepare[name]()
            start = clock()
            calls[name]()
            elapsed = clock() - start
            if n >= warmup:
                out[name].append(elapsed)
    return out


def timed_pair(
    first: Callable[[], object],
    second: Callable[[], object],
    samples: int,
    *,
    warmup: int = 0,
    max_seconds: float = 60.0,
    before: Callable[[], object] | None = None,
) -> tuple[list[float], list[float]]:
    """`interleaved` for two calls; `before` prepares each call of `first`."""
    out = interleaved(
        {"first": first, "second": second},
        samples,
        warmup=warmup,
        max_seconds=max_seconds,
        before=None if before is None else {"first": before},
    )
    return out["first"], out["second"]


@dataclass(frozen=True)
class Summary:
    samples: int
    median: float
    p99: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("no samples")
        ordered = sorted(values)
        p99 = statistics.quantiles(ordered, n=100, method="inclusive")[98] if len(ordered) > 1 else ordered[0]
        return cls(len(ordered), statistics.median(ordered), p99, ordered[0], ordered[-1])

    def stat(self, name: str) -> float:
        value: float = getattr(self, name)
        return value

    def scaled(self, unit: str) -> dict[str, float | int]:
        k = UNITS[unit]
        return {
            "median": round(self.median * k, 3),
            "p99": round(self.p99 * k, 3),
            "min": round(self.min * k, 3),
            "max": round(self.max * k, 3),
            "samples": self.samples,
        }


@dataclass
class Figure:
    """One measured figure; `ratio` compares `ratio_of` (median or p99) with the baseline's."""

    name: str
    unit: str
    summary: Summary
    baseline_name: str | None = None
    baseline: Summary | None = None
    ratio_of: str = "median"
    goal: str | None = None
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        base = self.baseline.stat(self.ratio_of)
        return self.summary.stat(self.ratio_of) / base if base else None

    def aim(self, goal: str, value: float | None, limit: float) -> None:
        """Give the figure its goal, read `goal`: met when `value` (None: not measured) <= `limit`."""
        self.goal = goal
        self.met = value is not None and value <= limit

    def to_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "name": self.name,
            "unit": self.unit,
            **self.summary.scaled(self.unit),
            "baseline": None
            if self.baseline is None
            else {"name": self.baseline_name, **self.baseline.scaled(self.unit)},
            "ratio": None if ratio is None else round(ratio, 3),
            "ratio_of": self.ratio_of if ratio is not None else None,
            "goal": self.goal,
            "met": self.met,
            "note": self.note,
        }


def figure(
    name: str,
    values: Sequence[float],
    *,
    unit: str,
    baseline: tuple[str, Sequence[float]] | None = None,
    stat: str = "median",
    at_most: float | None = None,
    note: str = "",
) -> Figure:
    """A figure, beside a `baseline` (its name, its values) measured in the same run when given: their
    ratio compares `stat` (median, p99, max). Its goal, when given: `stat` <= `at_most`, in seconds, or
    with a baseline as a multiple of the baseline's."""
    result = Figure(name, unit, Summary.of(values), ratio_of=stat, note=note)
    if baseline is not None:
        result.baseline_name, result.baseline = baseline[0], Summary.of(baseline[1])
    if at_most is None:
        return result
    if baseline is None:
        result.aim(f"{stat} <= {at_most * UNITS[unit]:g} {unit}", result.summary.stat(stat), at_most)
    else:
        result.aim(f"{stat} <= {at_most:g}x baseline", result.ratio, at_most)
    return result


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": model or platform.processor(),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


@dataclass
class Report:
    """One benchmark's figures, plus labelled lines that are arithmetic, not measurements."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    setup: dict[str, Any] = field(default_factory=dict)

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        data = {
            "benchmark": self.name,
            "machine": machine(),
            "setup": self.setup,
            "figures": [figure.to_json() for figure in self.figures],
            "lines": self.lines,
        }
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def _fmt(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def render(reports: Sequence[Report]) -> str:
    """The table printed on stdout."""
    rows = [("figure", "median", "p99", "min..max", "n", "baseline median", "ratio", "goal", "met")]
    for report in reports:
        for figure in report.figures:
            s = figure.summary.scaled(figure.unit)
            base = figure.baseline.scaled(figure.unit) if figure.baseline else None
            ratio = figure.ratio
            rows.append(
                (
                    figure.name,
                    f"{_fmt(float(s['median']))} {figure.unit}",
                    f"{_fmt(float(s['p99']))} {figure.unit}",
                    f"{_fmt(float(s['min']))}..{_fmt(float(s['max']))}",
                    str(s["samples"]),
                    f"{_fmt(float(base['median']))} {figure.unit} ({figure.baseline_name})" if base else "",
                    f"{ratio:.2f}x ({figure.ratio_of})" if ratio is not None else "",
                    figure.goal or "",
                    {True: "yes", False: "NO", None: ""}[figure.met],
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    for report in reports:
        out.extend(report.lines)
    return "\n".join(out)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null while measuring.

    The handlers' JSON logs and metrics (EMF) are still built and written, as in Lambda, where
    the runtime reads stdout; only the terminal is spared.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
