"""A benchmark command on the local stack: one bounded count (and any further options), its report
made, written and shown, its exit code (0 done, 1 the local stack failed, 2 the count out of bounds)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass

from bench.stats import Report, render
from scripts.dynamodb_local import LocalServiceError


@dataclass(frozen=True)
class Count:
    """The command's count option, e.g. `--writes`: a whole number from 1 to `most`."""

    option: str
    default: int
    most: int
    help: str  # what is counted; the bounds are added


def count_main(
    argv: list[str] | None,
    doc: str,
    count: Count,
    make: Callable[[argparse.Namespace], Report],
    *,
    options: Callable[[argparse.ArgumentParser], object] | None = None,
) -> int:
    """Parse `count` (then `options`, which adds the command's others), check its bounds, and
    `report_main` the report `make(args)` makes; `doc` is the command's docstring."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    bounds = f"1-{count.most}"
    counted = parser.add_argument(
        count.option, type=int, default=count.default, help=f"{count.help} ({bounds})"
    )
    if options is not None:
        options(parser)
    args = parser.parse_args(argv)
    if not 1 <= getattr(args, counted.dest) <= count.most:
        print(f"error: {count.option} must be {bounds}", file=sys.stderr)
        return 2
    return report_main(lambda: make(args))


def report_main(make: Callable[[], Report]) -> int:
    """A benchmark's exit code: its report made (the local stack failing: its message, 1), written and
    shown (0)."""
    try:
        report = make()
    except LocalServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    path = report.write()
    print(render([report]))
    print(f"results: {path}")
    return 0
