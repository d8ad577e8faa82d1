"""Write throughput of the benchmark's DynamoDB Local: raw BatchWriteItem (the machine's write
ceiling) and the two guarded write modes (the backfill's write bound), measured before the fills."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any


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


def write_modes(client: Any, env: dict[str, str], items: int, threads: int = 16) -> dict[str, float]:
    """Users/s of the two guarded write paths, pages of 60 written by `threads` threads."""
    from models.settings import get_settings
    from models.table import MirrorTable, mirror_table
    from models.user import UserSnapshot
    from scripts.table import create_table

    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
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


def measure_writes(client: Any, env: dict[str, str], results: dict[str, Any]) -> float:
    """Raw and guarded write throughput of this DynamoDB Local; returns the write bound (users/s)."""
    from scripts.table import create_table

    create_table(client, "bench-raw")
    raw_batch_write(client, "bench-raw", 8_000)  # warm-up (the JVM's JIT)
    raw = raw_batch_write(client, "bench-raw", 20_000)
    client.delete_table(TableName="bench-raw")
    modes = write_modes(client, env, 6_000)
    results["raw_batch_write_items_per_s"] = round(raw)
    results["guarded_write_users_per_s"] = {k: round(v) for k, v in modes.items()}
    print(
        f"raw BatchWriteItem: {raw:.0f} items/s; guarded writes: {results['guarded_write_users_per_s']}",
        flush=True,
    )
    return max(modes.values())
