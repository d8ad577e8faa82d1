"""Where a backfill run's time goes, computed from what the run did (for bench/backfill_bench.py).

A listing-bound run of N users at R ListUsers calls a second would take N / (60 R) seconds if every
call returned a full page and none was throttled. The rest of its elapsed time is split into:
- partial pages: each segment's last page is partial (the layout's calls beyond ceil(N / 60));
- throttled calls: slots spent on calls the stand-in refused (retried later);
- beyond the calls: the elapsed time beyond calls / R: start-up (clients, the first call's latency)
  and tail (the last segments' final pages, the last page's repair); in a write-bound run also the
  listing held back by the writes (the pipeline full).
CPU: the seconds of CPU the CLI, DynamoDB Local and the stand-in spent per user, and the users/s the
machine's cores would allow at that cost (a bound of its own on a shared 2-core host).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

USERS_PER_PAGE = 60  # ListUsers' largest page


def layout_calls(size: int, segments: int) -> int:
    """ListUsers calls a complete listing of the stand-in's pool of `size` needs with `segments`."""
    from bench.cognito_standin import Pool
    from functions.common.backfill.listing import segment_prefixes

    pool = Pool(size)
    ranges = (pool.prefix_range(prefix) for prefix in segment_prefixes(segments))
    return sum(max(1, -(-(end - start) // USERS_PER_PAGE)) for start, end in ranges)


def membership_figures(
    size: int, groups: int, rps: float, with_groups: dict[str, Any], without: dict[str, Any]
) -> dict[str, Any]:
    """A fill with the membership against its own ceiling (ListUsersInGroup takes slots of the same
    rate: rate x N / (ceil(N / 60) + the membership calls needed)) and against a fill without it."""
    from bench.cognito_standin import Pool

    pool = Pool(size, groups=groups)
    needed = sum(max(1, -(-len(pool.members(name) or ()) // USERS_PER_PAGE)) for name in pool.group_names())
    ceiling = rps * size / (-(-size // USERS_PER_PAGE) + needed)
    return {
        "groups": groups,
        "memberships": sum(len(pool.members(name) or ()) for name in pool.group_names()),
        "list_users_in_group_calls_needed": needed,
        "listing_ceiling_with_groups_users_per_s": round(ceiling, 1),
        "ratio_to_ceiling_with_groups": round(with_groups["users_per_s"] / ceiling, 3),
        "ratio_with_to_without_groups": round(with_groups["users_per_s"] / without["users_per_s"], 3),
    }


def where_time_goes(
    size: int, rps: float, segments: int, calls: int, throttled: int, elapsed: float
) -> dict[str, Any]:
    """The run's elapsed seconds split as the module says; `calls` and `throttled` as the stand-in counted."""
    full = -(-size // USERS_PER_PAGE)
    needed = layout_calls(size, segments)
    return {
        "elapsed_s": round(elapsed, 2),
        "full_pages_at_the_rate_s": round(full / rps, 2),
        "partial_pages_s": round((needed - full) / rps, 2),
        "throttled_calls_s": round(throttled / rps, 2),
        "other_calls_s": round((calls - needed - throttled) / rps, 2),
        "beyond_the_calls_s": round(elapsed - calls / rps, 2),
        "calls": calls,
        "calls_needed": needed,
        "full_pages": full,
    }


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process `pid` has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_figures(size: int, users_per_s: float, cpu_s: dict[str, float | None]) -> dict[str, Any]:
    """CPU per user of each process and in all, and the users/s the machine's cores allow at that
    cost; the totals only when every process reported (a baseline's CLI may not)."""
    known = {name: round(value, 2) for name, value in cpu_s.items() if value is not None}
    if len(known) < len(cpu_s):
        return {"cpu_s": known}
    per_user_ms = sum(known.values()) / size * 1000
    cores = os.cpu_count() or 1
    return {
        "cpu_s": known,
        "cpu_ms_per_user": round(per_user_ms, 3),
        "cpu_bound_users_per_s": round(cores * 1000 / per_user_ms) if per_user_ms else None,
        "cores_busy": round(per_user_ms * users_per_s / 1000, 2),
    }


@contextlib.contextmanager
def source_tree(root: Path, revision: str) -> Iterator[Path]:
    """The project's files at `revision` (git archive) in a temporary folder: a baseline to run."""
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    try:
        archive = subprocess.run(["git", "archive", revision], cwd=root, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
