"""Cold start: whole-process time of fresh Python processes, timed from the parent.

1. `python -c 'import <module>'` for the API, each trigger, the reader library `cognito_mirror` and
   the naive GetUser handler (the issue's figure); 2. import + the first `GET /me` answered (the
   mirror: its DynamoDB client is created on that first call, so it pays here what the naive handler
   pays at import), and the same for the example consumer's `GET /hello` (examples/consumer, a
   user's service on the library).
Processes of every kind run round-robin, so machine noise spreads evenly over them.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

from bench.stack import BASE_ENV
from bench.stats import Figure, Report, Summary, versus
from scripts.dynamodb_local import ROOT

BASELINE = "bench.naive_getuser_handler"
HANDLERS = ("functions.api", "functions.post_confirmation", "functions.post_authentication")
LIBRARY = "cognito_mirror"
CONSUMER_DIR = ROOT / "examples" / "consumer"

# The first request of a fresh process; the event and context helpers are the tests' (json only).
_FIRST_REQUEST = """
import os
import {module} as m
from tests.support.helpers import FakeLambdaContext, load_event
event = load_event("apigw_http_get_me")
token = os.environ.get("BENCH_ACCESS_TOKEN")
if token:
    event["headers"]["authorization"] = "Bearer " + token
status = m.handler(event, FakeLambdaContext())["statusCode"]
if status != 200:
    raise SystemExit("first request answered %s" % status)
"""


# The example consumer's first request: its handler module (hello.py) as its own service loads it.
_CONSUMER_FIRST_REQUEST = """
import sys
sys.path.insert(0, {consumer_dir!r})
import hello
from tests.support.helpers import FakeLambdaContext, load_event
event = load_event("apigw_http_get_me")
event["rawPath"] = event["requestContext"]["http"]["path"] = "/hello"
event["routeKey"] = "GET /hello"
status = hello.handler(event, FakeLambdaContext())["statusCode"]
if status != 200:
    raise SystemExit("first request answered %s" % status)
"""


# The miss path publishes no metric, and Powertools warns about that on stderr.
_QUIET = "ignore:No application metrics to publish:UserWarning"


def _spawn(code: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-W", _QUIET, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _round_robin(
    codes: dict[str, str], env: dict[str, str], samples: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU times per kind of process."""
    for code in codes.values():  # warm the OS page cache and __pycache__ once, untimed
        _spawn(code, env)
    wall: dict[str, list[float]] = {name: [] for name in codes}
    cpu: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(samples):
        for name, code in codes.items():
            elapsed, used = _spawn(code, env)
            wall[name].append(elapsed)
            cpu[name].append(used)
    return wall, cpu


def run(samples: int, *, access_token: str | None = None) -> Report:
    """Import figures; with `access_token` (a user of the Cognito stand-in, whose mirror row exists
    on the benchmark's DynamoDB Local), also import + first request."""
    env = {**os.environ, **BASE_ENV}
    codes = {name: f"import {name}" for name in (*HANDLERS, LIBRARY, BASELINE)}
    codes["interpreter"] = "pass"
    times, cpu = _round_robin(codes, env, samples)
    report = Report("cold_start", setup={"samples_per_kind": samples, "python": sys.executable})
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
    for name in (*HANDLERS[1:], LIBRARY):
        report.figures.append(
            versus(f"cold start: import {name}", times[name], naive, times[BASELINE], unit="ms")
        )
    report.figures.append(
        versus(
            "  CPU time (user+sys) of import functions.api",
            cpu["functions.api"],
            "of the naive handler import",
            cpu[BASELINE],
            unit="ms",
            note="less sensitive than wall time to other processes on a shared machine",
        )
    )
    report.figures.append(
        Figure(
            "cold start: bare interpreter (python -c pass)",
            "ms",
            Summary.of(times["interpreter"]),
            note="floor included in every figure above",
        )
    )
    if access_token is not None:
        first = {
            "api": _FIRST_REQUEST.format(module="functions.api"),
            "naive": _FIRST_REQUEST.format(module=BASELINE),
            "consumer": _CONSUMER_FIRST_REQUEST.format(consumer_dir=str(CONSUMER_DIR)),
        }
        first_times, first_cpu = _round_robin(first, {**env, "BENCH_ACCESS_TOKEN": access_token}, samples)
        rows = (
            (
                "api",
                "cold start + first GET /me (mirror row in DynamoDB Local)",
                "import + first GET /me",
                "whole process; the naive stand-in answers locally, real Cognito adds a network trip",
            ),
            (
                "consumer",
                "cold start + first GET /hello of the example consumer (cognito_mirror)",
                "the consumer's import + first GET /hello",
                "a user's service: Powertools resolver, profile_middleware, one GetItem",
            ),
        )
        for key, label, cpu_label, note in rows:
            report.figures.append(
                versus(
                    label,
                    first_times[key],
                    "naive: import + first GetUser (moto stand-in)",
                    first_times["naive"],
                    unit="ms",
                    note=note,
                )
            )
            report.figures.append(
                versus(
                    f"  CPU time (user+sys) of {cpu_label}",
                    first_cpu[key],
                    "of the naive import + first GetUser",
                    first_cpu["naive"],
                    unit="ms",
                )
            )
    return report
