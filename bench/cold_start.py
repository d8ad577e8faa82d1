"""Cold start: whole-process time of fresh Python processes, timed from the parent.

1. `python -c 'import <module>'` for the API, each trigger, the reader library `cognito_mirror`, the
   example consumer's handler module (examples/consumer/hello.py, a user's service on the library)
   and the naive GetUser handler; 2. import + the first request answered, each in its own fresh
   process: the mirror's `GET /me` and the consumer's `GET /hello` (their DynamoDB client is created
   on that first call) against the naive handler's import + first GetUser.
Every process has what Lambda gives a function (bench/stack.py's BASE_ENV: AWS_LAMBDA_FUNCTION_NAME,
credentials in the environment), the naive handler's too.
What each side does: the naive handler imports boto3 and builds a cognito-idp client at import, then
makes one GetUser (moto's server, no latency). The consumer imports Powertools (resolver, Logger) and
the library at import, then on its first request makes one GetItem (DynamoDB Local, the row present)
through the library's botocore-free client; a second figure forces the botocore client
(MIRROR_READER_HTTP=botocore: botocore imported, its client built, on that request). Nothing is
cached across processes beyond the OS page cache and byte-code: the project's own modules are
byte-compiled first, as pip compiles an installed package (the SDK and Powertools already are), since
with PYTHONDONTWRITEBYTECODE set an untimed run would not write them; then one untimed run of each
kind warms the page cache.
Processes of every kind run round-robin, so machine noise spreads evenly over them.
"""

from __future__ import annotations

import compileall
import os
import resource
import subprocess
import sys
import time

from bench.stack import BASE_ENV
from bench.stats import Figure, Report, Summary, figure
from scripts.dynamodb_local import ROOT

BASELINE = "bench.naive_getuser_handler"
SAME_FRAMEWORK_BASELINE = "bench.naive_powertools_handler"
HANDLERS = ("functions.api", "functions.post_confirmation", "functions.post_authentication")
LIBRARY = "cognito_mirror"
CONSUMER = "hello (examples/consumer)"
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


# The example consumer's handler module (hello.py), imported as its own service loads it.
_CONSUMER_IMPORT = """
import sys
sys.path.insert(0, {consumer_dir!r})
import hello
"""

# ... and its first request.
_CONSUMER_FIRST_REQUEST = (
    _CONSUMER_IMPORT
    + """
from tests.support.helpers import FakeLambdaContext, load_event
event = load_event("apigw_http_get_me")
event["rawPath"] = event["requestContext"]["http"]["path"] = "/hello"
event["routeKey"] = "GET /hello"
status = hello.handler(event, FakeLambdaContext())["statusCode"]
if status != 200:
    raise SystemExit("first request answered %s" % status)
"""
)


# The same first request with the reader's botocore client (the opt-out), beside the default.
_CONSUMER_FIRST_REQUEST_BOTOCORE = (
    'import os\nos.environ["MIRROR_READER_HTTP"] = "botocore"\n' + _CONSUMER_FIRST_REQUEST
)


# The miss path publishes no metric, and Powertools warns about that on stderr.
_QUIET = "ignore:No application metrics to publish:UserWarning"


def _byte_compile() -> None:
    """Byte-code for every project module a timed process imports (stale or missing `.pyc` files
    would make each process compile the mirror's sources while the SDK's are compiled)."""
    for folder in ("cognito_mirror", "functions", "models", "bench", "examples/consumer"):
        compileall.compile_dir(ROOT / folder, quiet=1)
    for name in ("__init__.py", "helpers.py"):
        compileall.compile_file(ROOT / "tests" / name, quiet=1)


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
    _byte_compile()
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
    # Every process gets what Lambda gives a function (BASE_ENV: its name, credentials in env).
    env = {name: value for name, value in os.environ.items() if name != "MIRROR_READER_HTTP"}
    env.update(BASE_ENV)
    codes = {name: f"import {name}" for name in (*HANDLERS, LIBRARY, BASELINE)}
    codes[CONSUMER] = _CONSUMER_IMPORT.format(consumer_dir=str(CONSUMER_DIR))
    codes["interpreter"] = "pass"
    times, cpu = _round_robin(codes, env, samples)
    report = Report("cold_start", setup={"samples_per_kind": samples, "python": sys.executable})
    naive = "import naive GetUser handler"
    report.figures.append(
        figure(
            "cold start: import functions.api",
            times["functions.api"],
            baseline=(naive, times[BASELINE]),
            unit="ms",
            at_most=1.0,
        )
    )
    for name in (*HANDLERS[1:], LIBRARY, CONSUMER):
        report.figures.append(
            figure(f"cold start: import {name}", times[name], baseline=(naive, times[BASELINE]), unit="ms")
        )
    report.figures.append(
        figure(
            f"  CPU time (user+sys) of import {CONSUMER}",
            cpu[CONSUMER],
            baseline=("of the naive handler import", cpu[BASELINE]),
            unit="ms",
        )
    )
    report.figures.append(
        figure(
            "  CPU time (user+sys) of import functions.api",
            cpu["functions.api"],
            baseline=("of the naive handler import", cpu[BASELINE]),
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
            "consumer_botocore": _CONSUMER_FIRST_REQUEST_BOTOCORE.format(consumer_dir=str(CONSUMER_DIR)),
            "naive_powertools": _FIRST_REQUEST.format(module=SAME_FRAMEWORK_BASELINE),
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
                "a user's service: Powertools resolver, profile_middleware, one GetItem (no botocore)",
            ),
            (
                "consumer_botocore",
                "  the same with MIRROR_READER_HTTP=botocore (the reader's botocore client)",
                "the consumer's import + first GET /hello through botocore",
                "the opt-out: botocore imported and its DynamoDB client built on the first request",
            ),
        )
        for key, label, cpu_label, note in rows:
            report.figures.append(
                figure(
                    label,
                    first_times[key],
                    baseline=("naive: import + first GetUser (moto stand-in)", first_times["naive"]),
                    unit="ms",
                    note=note,
                    at_most=0.9 if key == "consumer" else None,
                )
            )
            report.figures.append(
                figure(
                    f"  CPU time (user+sys) of {cpu_label}",
                    first_cpu[key],
                    baseline=("of the naive import + first GetUser", first_cpu["naive"]),
                    unit="ms",
                )
            )
        report.figures.append(
            figure(
                "  the consumer vs GetUser on the same framework (Powertools resolver + Logger)",
                first_times["consumer"],
                baseline=(
                    "naive GetUser in a Powertools resolver: import + first request",
                    first_times["naive_powertools"],
                ),
                unit="ms",
                note="bench/naive_powertools_handler.py: the library's share, Powertools on both sides",
            )
        )
    return report
