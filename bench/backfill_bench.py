"""Backfill benchmark: the CLI against the Cognito stand-in and DynamoDB Local, all on 127.0.0.1.

    python -m bench.backfill_bench [--sizes 10000,100000] [--max-rps 30]   (make bench-backfill)

In one run it measures: raw BatchWriteItem throughput of the same DynamoDB Local (the write
ceiling), the two guarded write modes (PartiQL batches vs parallel conditional PutItem; the faster
one gives the guarded ceiling, printed beside the raw one), then for
each pool size a backfill (users/s, throttles, peak RSS of the CLI process) and a --verify after
it (must find 0 missing). Results: bench/results/backfill.json.
Ports (overridable): BENCH_DDB_PORT (12001), BENCH_STANDIN_PORT (12101).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "backfill.json"
DDB_PORT = int(os.environ.get("BENCH_DDB_PORT", "12001"))
STANDIN_PORT = int(os.environ.get("BENCH_STANDIN_PORT", "12101"))
POOL_ID = "eu-west-1_StandIn"
USERS_PER_PAGE = 60  # ListUsers' largest page
REGION = "eu-west-1"
# DynamoDB Local keeps one database per access key: every client here must use the same one.
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


def mirror_item(i: int) -> dict[str, Any]:
    return {
        "sub": {"S": f"{i:08x}-0000-4000-8000-000000000000"},
        "username": {"S": f"user{i:07d}"},
        "attributes": {
            "M": {
                "email": {"S": f"user{i}@example.com"},
                "email_verified": {"S": "true"},
                "given_name": {"S": f"Given{i % 997}"},
                "family_name": {"S": f"Family{i % 991}"},
                "custom:tenant": {"S": f"tenant-{i % 50}"},
            }
        },
        "status": {"S": "CONFIRMED"},
        "enabled": {"BOOL": True},
        "observed_at": {"N": str(1_700_000_000_000_000 + i)},
        "source": {"S": "bench"},
        "deleted": {"BOOL": False},
    }


def raw_batch_write(client: Any, table: str, items: int, threads: int = 4) -> float:
    """Items/s of unconditional BatchWriteItem (25 a call, unprocessed items retried)."""

    def write(chunk: range) -> None:
        for start in range(chunk.start, chunk.stop, 25):
            stop = min(start + 25, chunk.stop)
            requests = [{"PutRequest": {"Item": mirror_item(i)}} for i in range(start, stop)]
            pending: dict[str, Any] = {table: requests}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    per = items // threads
    chunks = [range(t * per, (t + 1) * per) for t in range(threads)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, chunks))
    return (per * threads) / (time.perf_counter() - started)


def write_modes(client: Any, ddb_endpoint: str, items: int, threads: int = 16) -> dict[str, float]:
    """Users/s of the two guarded write paths, pages of 60 written by `threads` threads."""
    from models.settings import get_settings
    from models.table import MirrorTable, mirror_table
    from models.user import UserSnapshot
    from scripts.table import create_table

    os.environ.update({k: v for k, v in base_env(ddb_endpoint).items() if k.startswith("AWS_")})
    results: dict[str, float] = {}
    snapshots = [
        UserSnapshot(
            f"{i:08x}-0000-4000-8000-00000000beef",
            f"user{i:07d}",
            {"email": f"user{i}@example.com", "given_name": "G", "custom:tenant": "t"},
            "CONFIRMED",
            True,
            1_700_000_000_000_000 + i,
            "bench",
        )
        for i in range(items)
    ]
    pages = [snapshots[i : i + 60] for i in range(0, items, 60)]
    writers: dict[str, Callable[[MirrorTable, list[UserSnapshot]], object]] = {
        "partiql_batch": lambda mirror, page: mirror.put_snapshots(page, missing={s.sub for s in page}),
        "parallel_put_item": lambda mirror, page: [mirror.put_snapshot(s) for s in page],
    }
    for name, write_with in writers.items():
        table = f"bench-writes-{name.replace('_', '-')}"
        create_table(client, table)
        os.environ["MIRROR_TABLE"] = table
        os.environ.update({"MIRROR_DDB_READ_TIMEOUT": "10", "MIRROR_DDB_MAX_RETRIES": "4"})
        get_settings.cache_clear()
        mirror = mirror_table().with_pool_size(threads + 2)
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(partial(write_with, mirror), pages))
        results[name] = items / (time.perf_counter() - started)
        scan = client.get_paginator("scan").paginate(TableName=table, Select="COUNT")
        stored = sum(page["Count"] for page in scan)
        assert stored == items, f"{name}: {stored} of {items} stored"
        client.delete_table(TableName=table)
    return results


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


def run_cli(env: dict[str, str], args: list[str], timeout: float) -> dict[str, Any]:
    """The CLI in its own process (`--child`), so its peak RSS is its own."""
    command = [sys.executable, "-m", "bench.backfill_bench", "--child", "--", *args, "--json"]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if len(lines) < 2:
        raise RuntimeError(f"backfill child failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    summary = json.loads(lines[0])
    child = json.loads(lines[-1])
    return {"exit": child["exit"], "peak_rss_mb": round(child["max_rss_kb"] / 1024, 1), "summary": summary}


def child(argv: list[str]) -> None:
    from functions.backfill.cli import main

    code = main(argv)
    sys.stdout.flush()
    print(json.dumps({"exit": code, "max_rss_kb": peak_rss_kb()}))
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
        "note": "2 shared cores; other engineers were running tests and servers at the same time",
    }


def bench(sizes: list[int], max_rps: float, segments: int, workers: int) -> dict[str, Any]:

    from scripts.dynamodb_local import start_dynamodb_local
    from scripts.table import create_table

    results: dict[str, Any] = {"machine": machine(), "settings": {"max_rps": max_rps, "segments": segments}}
    listing = max_rps * USERS_PER_PAGE  # the listing's own bound: the CLI's --max-rps (30: the quota) x 60
    ddb = start_dynamodb_local(DDB_PORT)
    try:
        env = base_env(ddb.endpoint)
        client = ddb_client(ddb.endpoint)
        create_table(client, "bench-raw")
        raw_batch_write(client, "bench-raw", 8_000)  # warm-up (the JVM's JIT)
        raw = raw_batch_write(client, "bench-raw", 20_000)
        client.delete_table(TableName="bench-raw")
        ceiling = min(listing, raw)
        results["raw_batch_write_items_per_s"] = round(raw)
        results["ceiling_users_per_s"] = round(ceiling)
        print(f"raw BatchWriteItem: {raw:.0f} items/s; ceiling {ceiling:.0f} users/s", flush=True)
        modes = write_modes(client, ddb.endpoint, 6_000)
        results["guarded_write_users_per_s"] = {k: round(v) for k, v in modes.items()}
        guarded = min(listing, max(modes.values()))
        results["guarded_ceiling_users_per_s"] = round(guarded)
        print(f"guarded writes: {results['guarded_write_users_per_s']}", flush=True)
        print(
            f"ceiling: raw {ceiling:.0f} users/s, guarded {guarded:.0f} users/s "
            f"(min of ListUsers {listing:.0f} and the faster guarded write mode)",
            flush=True,
        )
        runs = []
        for size in sizes:
            table = f"bench-mirror-{size}"
            create_table(client, table)
            common = ["--user-pool-id", POOL_ID, "--table", table, "--segments", str(segments)]
            common += ["--max-rps", str(max_rps), "--workers", str(workers)]
            with standin(size) as stats:
                fill = run_cli(env, common, timeout=1800)
                verify = run_cli(env, [*common, "--verify"], timeout=1800)
                served = stats()
            fill_s, verify_s = fill["summary"], verify["summary"]
            run = {
                "users": size,
                "users_per_s": fill_s["users_per_s"],
                "ratio_to_ceiling": round(fill_s["users_per_s"] / ceiling, 3),
                "ratio_to_guarded_ceiling": round(fill_s["users_per_s"] / guarded, 3),
                "elapsed_s": fill_s["elapsed_s"],
                "written": fill_s["written"],
                "failed": fill_s["failed"],
                "throttles_client": fill_s["throttles"] + verify_s["throttles"],
                "throttles_standin": served.get("ListUsers.throttled", 0),
                "list_calls": served.get("ListUsers.calls", 0),
                "peak_rss_mb": fill["peak_rss_mb"],
                "verify": {
                    "exit": verify["exit"],
                    "missing": verify_s["missing"],
                    "stale": verify_s["stale"],
                    "orphaned": verify_s["orphaned"],
                    "unchanged": verify_s["unchanged"],
                    "users_per_s": verify_s["users_per_s"],
                    "peak_rss_mb": verify["peak_rss_mb"],
                },
                "exit": fill["exit"],
            }
            runs.append(run)
            print(json.dumps(run), flush=True)
            client.delete_table(TableName=table)
        results["runs"] = runs
        if len(runs) >= 2:
            growth = runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"]
            results["rss_growth_largest_vs_smallest"] = round(growth, 3)
        results["goals"] = {
            "ratio_ge_0_9": all(r["ratio_to_ceiling"] >= 0.9 for r in runs),
            "rss_growth_le_1_2": results.get("rss_growth_largest_vs_smallest", 1.0) <= 1.2,
            "zero_lost": all(r["verify"]["missing"] == 0 and r["failed"] == 0 for r in runs),
        }
    finally:
        ddb.stop()
    return results


def main() -> None:
    if "--child" in sys.argv:
        child(sys.argv[sys.argv.index("--") + 1 :])
    parser = argparse.ArgumentParser(description="Backfill benchmark (stand-in Cognito + DynamoDB Local)")
    parser.add_argument("--sizes", default=os.environ.get("BENCH_BACKFILL_SIZES", "10000,100000"))
    parser.add_argument("--max-rps", type=float, default=30.0)
    parser.add_argument("--segments", type=int, default=16)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    write_results(RESULTS, lambda: bench(sizes, args.max_rps, args.segments, args.workers))


def write_results(path: Path, measure: Callable[[], dict[str, Any]]) -> None:
    """Run `measure`, stamp its start time, write it as JSON to `path` and print its goals."""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results = measure()
    results["taken_at"] = started
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")
    print(json.dumps(results["goals"]))


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
