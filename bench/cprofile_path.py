"""cProfile of one benchmarked path, to explain a figure (e.g. a missed goal).

    python -m bench.cprofile_path get-me-miss      # functions.api.handler, cache emptied each call
    python -m bench.cprofile_path get-me-hit
    python -m bench.cprofile_path trigger          # functions.post_authentication.handler

Runs against the same stand-ins as bench.run (DynamoDB Local on BENCH_DYNAMODB_PORT, ...).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import warnings
from collections.abc import Callable

from bench.stack import apply_env

PATHS = ("get-me-miss", "get-me-hit", "trigger")


def _path(name: str) -> tuple[Callable[[], object], Callable[[], object] | None]:
    from bench.api import call_get_me
    from bench.fixtures import FakeLambdaContext, get_me_event, load_event

    context = FakeLambdaContext()
    if name == "trigger":
        from functions.post_authentication import handler as trigger

        event = load_event("post_authentication")
        return (lambda: trigger(event, context)), None
    from functions.api import handler
    from functions.common.reader import mirror_reader

    request = get_me_event()
    return (lambda: call_get_me(handler, request, context)), (
        mirror_reader().cache.clear if name == "get-me-miss" else None
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=PATHS)
    parser.add_argument("--calls", type=int, default=1000, help="profiled calls (after 200 warm-up calls)")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative, tottime, ...)")
    parser.add_argument("--top", type=int, default=40, help="rows to print")
    args = parser.parse_args(argv)
    apply_env()
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

    from bench.fixtures import seed_user
    from bench.stack import local_stack
    from bench.stats import quiet_stdout

    with local_stack():
        seed_user()
        call, before = _path(args.path)

        def loop(n: int) -> None:
            for _ in range(n):
                if before is not None:
                    before()
                call()

        profiler = cProfile.Profile()
        with quiet_stdout():
            loop(200)
            profiler.enable()
            loop(max(1, min(args.calls, 100_000)))
            profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
