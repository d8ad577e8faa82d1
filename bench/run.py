"""Run the benchmarks: a table on stdout, one JSON per benchmark in bench/results/.

    python -m bench.run            # everything (what `make bench-core` runs)
    python -m bench.run --quick    # fewer samples, for a smoke run
    python -m bench.run --only api,triggers

Everything runs on 127.0.0.1 (ports: BENCH_DYNAMODB_PORT, BENCH_COGNITO_PORT, BENCH_SILENT_PORT,
BENCH_CLOSED_PORT; defaults 14000-14003). Loops are bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Callable

from bench.stack import apply_env
from bench.stats import Report

BENCHMARKS = ("cold_start", "api", "naive_getuser", "triggers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke run, noisy figures)")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {BENCHMARKS}"
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    apply_env()  # before any handler module is imported
    # The miss path publishes no metric; Powertools warns about that on every flush.
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

    from bench import api, cold_start, naive, triggers
    from bench.fixtures import seed_user
    from bench.stack import TABLE, local_stack
    from bench.stats import render
    from models.errors import TableUnavailableError

    scale = 10 if args.quick else 1
    reports: list[Report] = []

    def measure(make: Callable[[], Report]) -> None:
        load = os.getloadavg()[0]
        report = make()
        report.setup["loadavg_1m_before"] = round(load, 2)
        reports.append(report)

    with local_stack() as stack:
        # A fresh DynamoDB Local answers its first requests slowly (its JIT is cold): warm it with a
        # raw read (the SDK's default timeouts), then seed through the guarded write, which is
        # idempotent, so a write that timed out on a busy machine is simply made again.
        stack.ddb_client().get_item(TableName=TABLE, Key={"sub": {"S": "warm-up"}})
        for attempt in range(3):
            try:
                seed_user()
                break
            except TableUnavailableError:
                if attempt == 2:
                    raise
        token = naive.access_token(stack)
        if "cold_start" in only:
            measure(lambda: cold_start.run(5 if args.quick else 21, access_token=token))
        if "api" in only:
            measure(lambda: api.run(stack, hits=20_000 // scale, misses=2_000 // scale))
        if "naive_getuser" in only:
            measure(lambda: naive.run(stack, token, samples=1_000 // scale))
        if "triggers" in only:
            unreachable = 3 if args.quick else 5
            measure(lambda: triggers.run(stack, samples=2_000 // scale, unreachable_samples=unreachable))
    paths = [report.write() for report in reports]
    print(render(reports))
    print("results: " + ", ".join(str(path.relative_to(path.parents[2])) for path in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
