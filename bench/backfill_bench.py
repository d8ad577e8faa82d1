"""Backfill benchmark: the CLI against the Cognito stand-in and DynamoDB Local, all on 127.0.0.1.

    python -m bench.backfill_bench [--sizes 10000,20000,100000] [--max-rps auto|R]
                                   [--baseline REV] [--groups G]   (make bench-backfill)

In one run it measures: raw BatchWriteItem throughput of the same DynamoDB Local, the two guarded
write modes (PartiQL batches vs parallel conditional PutItem; the faster one is the write bound),
then for each pool size a fill (users/s, throttles, peak RSS and CPU of the CLI, CPU of DynamoDB
Local and of the stand-in) and a --verify after it (must find 0 missing). Each fill's ratio is to
the listing ceiling (--max-rps x 60 users a page); its bound is the lower of that ceiling and the
write bound, both measured here. `--max-rps auto` (the default) picks the largest whole rate whose
listing ceiling is at most 0.8 of the write bound, so the listing is what bounds the fill.
`--baseline REV` also runs the CLI of that git revision on each size, interleaved (the same
stand-in, back to back), for a ratio within one run. `--groups G` serves G groups (user i in
"group-<i mod (G+1)>", none when that is G) and fills each size twice, interleaved: with the
membership (the CLI's default) and with `--no-groups`; the membership's ListUsersInGroup calls take
slots of the same rate, so its ceiling is rate x N / (ceil(N / 60) + the membership calls needed).
Results: bench/results/backfill.json.
Ports (overridable): BENCH_DDB_PORT (12001), BENCH_STANDIN_PORT (12101).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.backfill_time import (
    USERS_PER_PAGE,
    cpu_figures,
    layout_calls,
    membership_figures,
    process_cpu_s,
    source_tree,
    where_time_goes,
)
from bench.backfill_writes import measure_writes

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "backfill.json"
DDB_PORT = int(os.environ.get("BENCH_DDB_PORT", "12001"))
STANDIN_PORT = int(os.environ.get("BENCH_STANDIN_PORT", "12101"))
POOL_ID = "eu-west-1_StandIn"
REGION = "eu-west-1"
# DynamoDB Local keeps one database per access key: every client here must use the same one.
# What a run reports of its --verify.
VERIFY_FIGURES = (
    *("missing", "stale", "orphaned", "unchanged", "groups_unknown", "groups_stale"),
    *("users_per_s", "throttles", "elapsed_s"),
)
FAKE_CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


def base_env(ddb_endpoint: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_DYNAMODB": ddb_endpoint,
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": f"http://127.0.0.1:{STANDIN_PORT}",
            "PYTHONPATH": str(ROOT),
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("AWS_PROFILE", None)
    return env


def ddb_client(endpoint: str) -> Any:
    """A DynamoDB client on DynamoDB Local with the benchmarks' one access key."""
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
    )


@contextmanager
def standin(
    users: int, *, port: int = STANDIN_PORT, options: Sequence[str] = ()
) -> Iterator[Callable[[], dict[str, int]]]:
    """The stand-in in its own process on `port`; `options` are extra CLI flags (--list-rps ...)."""
    from scripts.dynamodb_local import wait_for_port

    process = subprocess.Popen(
        [sys.executable, "-m", "bench.cognito_standin", "--port", str(port), "--users", str(users), *options],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, 120, process)

        def stats() -> dict[str, int]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as answer:
                result: dict[str, int] = json.load(answer)
            return result

        yield stats
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_cli(env: dict[str, str], args: list[str], timeout: float, root: Path = ROOT) -> dict[str, Any]:
    """The CLI in its own process (`--child`), so its peak RSS is its own; `root`: whose code runs."""
    command = [sys.executable, "-m", "bench.backfill_bench", "--child", "--", *args, "--json"]
    env = dict(env, PYTHONPATH=str(root))
    done = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if len(lines) < 2:
        raise RuntimeError(f"backfill child failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    summary = json.loads(lines[0])
    child = json.loads(lines[-1])
    return {
        "exit": child["exit"],
        "peak_rss_mb": round(child["max_rss_kb"] / 1024, 1),
        "cpu_s": child.get("cpu_s"),  # a baseline's child may not report it
        "summary": summary,
    }


def child(argv: list[str]) -> None:
    from functions.backfill.cli import main

    code = main(argv)
    sys.stdout.flush()
    times = os.times()
    print(json.dumps({"exit": code, "max_rss_kb": peak_rss_kb(), "cpu_s": times.user + times.system}))
    sys.exit(0)


def peak_rss_kb() -> int:
    """This process's peak RSS. getrusage's ru_maxrss is not used on Linux: it carries over the
    parent's peak across fork+exec, so every child would report at least the benchmark's own size.
    VmHWM belongs to the process's own address space."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_1m_at_start": round(load[0], 2),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def listing_rate(max_rps: str, write_bound: float) -> float:
    """The fill's --max-rps: as given, or (auto) the largest whole rate whose listing ceiling is at
    most 0.8 of the write bound measured in this run (1 to 30)."""
    if max_rps != "auto":
        return float(max_rps)
    return float(max(1, min(30, math.floor(0.8 * write_bound / USERS_PER_PAGE))))


@dataclass
class Plan:
    """What every fill of this run shares."""

    rps: float
    latency_ms: float
    segments: int
    workers: int
    env: dict[str, str]
    client: Any
    ddb_pid: int
    clis: dict[str, Path]  # name -> the source tree whose CLI runs ("fill": this one)
    ceilings: dict[str, float]  # "listing", "writes" (users/s)
    groups: int = 0  # the stand-in's groups (0: none, and no "no_groups" fill)


def fill_once(
    plan: Plan,
    size: int,
    root: Path,
    stats: Callable[[], dict[str, int]],
    table: str,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """One fill of a fresh table by the CLI of `root`, with what it cost the stand-in and DynamoDB.
    Calls and throttles are the UserList category's: ListUsers and ListUsersInGroup."""
    args = ["--user-pool-id", POOL_ID, "--table", table, "--segments", str(plan.segments)]
    args += ["--workers", str(plan.workers), "--max-rps", str(plan.rps), *extra]
    before, ddb_before = stats(), process_cpu_s(plan.ddb_pid)
    fill = run_cli(plan.env, args, timeout=3600, root=root)
    after, ddb_cpu = stats(), process_cpu_s(plan.ddb_pid) - ddb_before
    summary = fill["summary"]

    def delta(*names: str) -> int:
        return sum(after.get(name, 0) - before.get(name, 0) for name in names)

    calls = delta("ListUsers.calls", "ListUsersInGroup.calls")
    throttled = delta("ListUsers.throttled", "ListUsersInGroup.throttled")
    cognito_calls = {
        op: delta(f"{op}.calls") for op in ("ListUsers", "ListGroups", "ListUsersInGroup", "AdminGetUser")
    }
    cpu = {
        "cli": fill["cpu_s"],
        "dynamodb_local": ddb_cpu,
        "standin": (after["cpu_ms"] - before["cpu_ms"]) / 1000,
    }
    return {
        "users_per_s": summary["users_per_s"],
        "ratio_to_listing_ceiling": round(summary["users_per_s"] / plan.ceilings["listing"], 3),
        **{k: summary[k] for k in ("listed", "written", "failed", "throttles", "groups_written")},
        "cognito_calls": cognito_calls,
        "exit": fill["exit"],
        "throttles_standin": throttled,
        "peak_rss_mb": fill["peak_rss_mb"],
        "time": where_time_goes(size, plan.rps, plan.segments, calls, throttled, summary["elapsed_s"]),
        **cpu_figures(size, summary["users_per_s"], cpu),
    }


def one_size(plan: Plan, size: int, baseline_first: bool) -> dict[str, Any]:
    """Fill a fresh table with each CLI (interleaved), then --verify the last fill at 30 RPS."""
    from scripts.table import create_table

    table = f"bench-mirror-{size}"
    names = sorted(plan.clis, reverse=not baseline_first)  # "baseline" < "fill" < "no_groups"
    if "no_groups" in names:  # first, so that the verify checks a fill with the membership
        names.remove("no_groups")
        names.insert(0, "no_groups")
    fills: dict[str, dict[str, Any]] = {}
    options = ["--latency-ms", str(plan.latency_ms), "--groups", str(plan.groups)]
    with standin(size, options=options) as stats:
        for name in names:
            with contextlib.suppress(Exception):
                plan.client.delete_table(TableName=table)
                plan.client.get_waiter("table_not_exists").wait(TableName=table)
            create_table(plan.client, table)
            extra = ["--no-groups"] if name == "no_groups" else []
            fills[name] = fill_once(plan, size, plan.clis[name], stats, table, extra)
            print(json.dumps({"users": size, "cli": name, **fills[name]}), flush=True)
        # The verify only reads: at the whole quota (the stand-in has no other client), to save time.
        verify_args = ["--user-pool-id", POOL_ID, "--table", table, "--max-rps", "30", "--verify"]
        verify = run_cli(plan.env, verify_args, timeout=3600)
    plan.client.delete_table(TableName=table)
    listing, writes = plan.ceilings["listing"], plan.ceilings["writes"]
    fill = fills["fill"]
    run: dict[str, Any] = {
        "users": size,
        "bound": "listing" if listing <= writes else "writes",
        "ratio_to_bound": round(fill["users_per_s"] / min(listing, writes), 3),
        **fill,
        "calls_by_layout": {n: layout_calls(size, n) for n in (1, 16, 256)},
    }
    if "no_groups" in fills:
        run["no_groups"] = fills["no_groups"]
        run["membership"] = membership_figures(size, plan.groups, plan.rps, fill, fills["no_groups"])
    if "baseline" in fills:
        run["baseline"] = fills["baseline"]
        run["ratio_to_baseline"] = round(fill["users_per_s"] / max(fills["baseline"]["users_per_s"], 1e-9), 3)
    verify_s = verify["summary"]
    run["verify"] = {
        "exit": verify["exit"],
        **{k: verify_s[k] for k in VERIFY_FIGURES},
        "peak_rss_mb": verify["peak_rss_mb"],
    }
    return run


def bench(sizes: list[int], args: argparse.Namespace) -> dict[str, Any]:
    from scripts.dynamodb_local import start_dynamodb_local

    results: dict[str, Any] = {"machine": machine()}
    ddb = start_dynamodb_local(DDB_PORT)
    try:
        client = ddb_client(ddb.endpoint)
        write_bound = measure_writes(client, base_env(ddb.endpoint), results)
        rps = listing_rate(args.max_rps, write_bound)
        with contextlib.ExitStack() as stack:
            clis = {"fill": ROOT}
            if args.groups:
                clis["no_groups"] = ROOT
            if args.baseline:
                clis["baseline"] = stack.enter_context(source_tree(ROOT, args.baseline))
            ceilings = {"listing": rps * USERS_PER_PAGE, "writes": write_bound}
            plan = Plan(rps, args.latency_ms, args.segments, args.workers, base_env(ddb.endpoint), client,
                        ddb.process.pid, clis, ceilings, args.groups)  # fmt: skip
            results["settings"] = {
                "max_rps": rps,
                "standin_latency_ms": args.latency_ms,
                "calls_in_flight_needed": round(rps * args.latency_ms / 1000, 2),
                "segments": args.segments,
                "workers": args.workers,
                "baseline": args.baseline,
                "groups": args.groups,
            }
            results["listing_ceiling_users_per_s"] = round(ceilings["listing"])
            results["write_bound_users_per_s"] = round(write_bound)
            print(f"settings: {json.dumps(results['settings'])}; ceilings: {ceilings}", flush=True)
            results["runs"] = [one_size(plan, size, i % 2 == 0) for i, size in enumerate(sizes)]
        runs = results["runs"]
        if len(runs) >= 2:
            results["rss_growth_largest_vs_smallest"] = round(
                runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3
            )
        listing_bound = [r for r in runs if r["bound"] == "listing"]
        results["goals"] = {
            # With the membership, against the listing ceiling with groups (its calls share the rate).
            "ratio_ge_0_9_where_listing_bound": bool(listing_bound)
            and all(
                r.get("membership", {}).get("ratio_to_ceiling_with_groups", r["ratio_to_listing_ceiling"])
                >= 0.9
                for r in listing_bound
            ),
            "rss_growth_le_1_2": results.get("rss_growth_largest_vs_smallest", 1.0) <= 1.2,
            "zero_lost": all(r["verify"]["missing"] == 0 and r["failed"] == 0 for r in runs),
            "verify_clean": all(r["verify"]["exit"] == 0 for r in runs),
        }
    finally:
        ddb.stop()
    return results


def main() -> None:
    if "--child" in sys.argv:
        child(sys.argv[sys.argv.index("--") + 1 :])
    parser = argparse.ArgumentParser(description="Backfill benchmark (stand-in Cognito + DynamoDB Local)")
    parser.add_argument("--sizes", default=os.environ.get("BENCH_BACKFILL_SIZES", "10000,20000,100000"))
    parser.add_argument(
        "--max-rps", default="auto", help="the fill's ListUsers rate, or auto (listing-bound)"
    )
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the stand-in's time per call")
    parser.add_argument("--segments", type=int, default=16)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument(
        "--baseline", metavar="REV", help="also run the CLI of this git revision, interleaved"
    )
    parser.add_argument(
        "--groups",
        type=int,
        default=int(os.environ.get("BENCH_BACKFILL_GROUPS", "0")),
        help="the stand-in's groups; >0 also fills each size with --no-groups, interleaved",
    )
    parser.add_argument("--out", default=str(RESULTS), help="the results file (JSON)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    write_results(Path(args.out).resolve(), lambda: bench(sizes, args))


def write_results(path: Path, measure: Callable[[], dict[str, Any]]) -> None:
    """Run `measure`, stamp its start time, write it as JSON to `path` and print its goals."""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results = measure()
    results["taken_at"] = started
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(json.dumps(results["goals"]))


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
