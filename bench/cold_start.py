"""Cold start: whole-process time of fresh `python -c 'import <module>'` processes.

Processes of every module run round-robin, so machine noise spreads evenly over them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.stack import BASE_ENV
from bench.stats import Figure, Report, Summary, versus

BASELINE = "bench.naive_getuser_handler"
HANDLERS = ("functions.api", "functions.post_confirmation", "functions.post_authentication")


def _spawn(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return time.perf_counter() - start


def run(samples: int) -> Report:
    env = {**os.environ, **BASE_ENV}
    codes = {name: f"import {name}" for name in (*HANDLERS, BASELINE)}
    codes["interpreter"] = "pass"
    for code in codes.values():  # warm the OS page cache and __pycache__ once, untimed
        _spawn(code, env)
    times: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(samples):
        for name, code in codes.items():
            times[name].append(_spawn(code, env))
    report = Report("cold_start", setup={"samples_per_module": samples, "python": sys.executable})
    naive = "import naive GetUser handler"
    report.figures.append(
        versus(
            "cold start: import functions.api",
            times["functions.api"],
            naive,
            times[BASELINE],
            unit="ms",
            max_ratio=1.0,
        )
    )
    for name in HANDLERS[1:]:
        report.figures.append(
            versus(f"cold start: import {name}", times[name], naive, times[BASELINE], unit="ms")
        )
    report.figures.append(
        Figure(
            "cold start: bare interpreter (python -c pass)",
            "ms",
            Summary.of(times["interpreter"]),
            note="floor included in every figure above",
        )
    )
    return report
