"""User directory benchmark: the directory indexes on DynamoDB Local vs Cognito's ListUsers.

    python -m bench.directory_bench [--users 50000] [--tenants 10] [--samples 300]   (make bench-directory)
    python -m bench.directory_bench --groups-only [--group-members 1000]           (part (c) alone)

(a) Find by e-mail, warm: `query_users("email", ...)` (the data layer) vs a raw DynamoDB Query on the
    same index, interleaved, p50 ratio (goal <= 1.3x).
(b) Every user of one tenant (users / tenants of them) in a pool of `--users`: the directory page
    by page (500 a page, the data layer's largest; also timed at 100, GET /users' largest) vs
    Cognito's only way, ListUsers over the whole pool filtering on the client (custom attributes
    are not searchable), on the Cognito stand-in at 100 ms a call and 30 RPS, given its best
    chance: 16 sub-prefix segments in parallel under one 30 RPS limiter.
(c) A group of `--group-members` users vs a tenant of as many (the same users): the group listing
    (membership items, then each page's rows by BatchGetItem, the row check) vs the tenant listing
    (the index alone), pages of 100 and 500, interleaved, median of 5.
The mirror is filled with the stand-in's very users (rows and index keys built by the data layer).
Results: bench/results/directory.json (--groups-only: bench/results/directory_groups.json).
Ports (overridable): BENCH_DIRECTORY_DDB_PORT (12003), BENCH_DIRECTORY_STANDIN_PORT (12103).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.backfill_bench import (
    POOL_ID,
    REGION,
    ROOT,
    base_env,
    ddb_client,
    machine,
    standin,
    write_results,
)

RESULTS = ROOT / "bench" / "results" / "directory.json"
RESULTS_GROUPS = ROOT / "bench" / "results" / "directory_groups.json"
DDB_PORT = int(os.environ.get("BENCH_DIRECTORY_DDB_PORT", "12003"))
STANDIN_PORT = int(os.environ.get("BENCH_DIRECTORY_STANDIN_PORT", "12103"))
TABLE = "bench-directory"
MEMBERS_TABLE = "bench-directory-group-members"
GROUP = "bench-ops"
GROUP_TENANT = "tenant-of-the-group"
PAGE = 500
API_PAGE = 100
TENANT = "tenant-0"


def fill(client: Any, users: int, tenants: int, threads: int = 4) -> float:
    """Write the stand-in's users into the mirror; users/s. Rows (index keys included) are built by
    the data layer (`MirrorTable.snapshot_item`) and loaded with plain BatchWriteItem: the table starts
    empty, and the guarded write path's speed is backfill_bench's subject, not this one's."""
    from bench.cognito_standin import Pool
    from models.table import mirror_table
    from models.user import snapshot_from_cognito_user

    pool = Pool(users, tenants=tenants)
    items = [
        mirror_table().snapshot_item(
            snapshot_from_cognito_user(pool.user_type(i), allowlist=None, source="bench", observed_at=1 + i)
        )
        for i in range(users)
    ]

    def write(start: int) -> None:
        pending: dict[str, Any] = {
            TABLE: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        }
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as workers:
        list(workers.map(write, range(0, users, 25)))
    return users / (time.perf_counter() - started)


def find_by_email(client: Any, users: int, samples: int) -> dict[str, Any]:
    """p50/p95 of the data layer's lookup vs the raw Query it makes, interleaved (warm)."""
    from cognito_mirror.record import index_name, query_keys
    from models.directory import query_users

    def ours(address: str) -> int:
        return len(query_users("email", address, limit=10).users)

    def raw(address: str) -> int:
        response = client.query(
            TableName=TABLE,
            IndexName=index_name(0),
            KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": "dir0"},
            ExpressionAttributeValues={":v": {"S": query_keys("email", address)[0]}},
            Limit=10,
        )
        return len(response["Items"])

    timings: dict[str, list[float]] = {"directory": [], "raw_query": []}
    for i in range(samples + 50):  # the first 50 of each warm up
        address = f"USER{(i * 7919) % users}@Example.com"
        for name, call in (("directory", ours), ("raw_query", raw))[:: 1 if i % 2 else -1]:
            started = time.perf_counter()
            found = call(address.lower() if name == "raw_query" else address)
            elapsed = time.perf_counter() - started
            assert found == 1, f"{name}: {found} users for {address}"
            if i >= 50:
                timings[name].append(elapsed)
    result: dict[str, Any] = {"samples": samples}
    for name, values in timings.items():
        ordered = sorted(values)
        result[name] = {
            "p50_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        }
    result["p50_ratio"] = round(result["directory"]["p50_ms"] / result["raw_query"]["p50_ms"], 3)
    return result


def list_through_directory(
    expected: int, page_size: int = PAGE, *, tenant: str = TENANT, group: str | None = None
) -> dict[str, Any]:
    """A tenant's listing (or with `group`, that group's) to its end, page by page."""
    from models.directory import Continuation, query_group_members, query_users

    started = time.perf_counter()
    after: Continuation | None = None
    listed, pages = 0, 0
    while True:
        page = (
            query_group_members(group, limit=page_size, after=after)
            if group is not None
            else query_users("custom:tenant", tenant, limit=page_size, after=after)
        )
        listed += len(page.users)
        pages += 1
        if page.next is None:
            break
        after = page.next
    elapsed = time.perf_counter() - started
    assert listed == expected, f"directory listed {listed} of {expected}"
    return {"seconds": round(elapsed, 3), "pages": pages, "users": listed}


def list_raw_floor(client: Any, expected: int) -> dict[str, Any]:
    """The floor: a bare boto3 Query loop over the 16 shards (1 MB pages, no decoding)."""
    from cognito_mirror.record import index_name, query_keys, slot_attribute

    started = time.perf_counter()
    listed, calls = 0, 0
    for key in query_keys("custom:tenant", TENANT):
        kwargs: dict[str, Any] = {
            "TableName": TABLE,
            "IndexName": index_name(1),
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": slot_attribute(1)},
            "ExpressionAttributeValues": {":v": {"S": key}},
        }
        while True:
            response = client.query(**kwargs)
            listed += len(response["Items"])
            calls += 1
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    elapsed = time.perf_counter() - started
    assert listed == expected, f"raw Query loop read {listed} of {expected}"
    return {"seconds": round(elapsed, 3), "query_calls": calls, "users": listed}


def fill_group(client: Any, members: int) -> None:
    """`members` users, all in GROUP_TENANT and in GROUP: their rows (membership known) and their
    membership items as the groupMembers projection writes them, loaded with BatchWriteItem."""
    from cognito_mirror.group_members import member_key
    from models.table import mirror_table
    from models.user import UserSnapshot

    writes: dict[str, list[dict[str, Any]]] = {TABLE: [], MEMBERS_TABLE: []}
    for i in range(members):
        sub = f"{i:08x}-0000-4000-8000-00000000{i % 10_000:04d}"
        attributes = {"email": f"group{i}@example.com", "custom:tenant": GROUP_TENANT}
        snapshot = UserSnapshot(sub, f"group{i}", attributes, "CONFIRMED", True, 1 + i, "bench")
        row = mirror_table().snapshot_item(snapshot)
        row |= {"groups": {"SS": [GROUP]}, "groups_observed_at": {"N": str(1 + i)}}
        writes[TABLE].append(row)
        writes[MEMBERS_TABLE].append(
            {
                "group_key": {"S": member_key(GROUP, sub)},
                "sub": {"S": sub},
                "group": {"S": GROUP},
                "member": {"BOOL": True},
                "observed_at": {"N": str(1 + i)},
            }
        )
    for table, items in writes.items():
        for start in range(0, len(items), 25):
            pending: dict[str, Any] = {
                table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            }
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def group_vs_tenant(client: Any, members: int, rounds: int = 5) -> dict[str, Any]:
    """(c): the same users listed as a group and as a tenant, interleaved; medians of `rounds`."""
    fill_group(client, members)
    runs = {
        f"{kind}_page_{size}": (
            lambda size=size, kind=kind: list_through_directory(
                members, size, tenant=GROUP_TENANT, group=GROUP if kind == "group" else None
            )
        )
        for size in (API_PAGE, PAGE)
        for kind in ("tenant", "group")
    }
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    pages: dict[str, int] = {}
    for round_ in range(rounds + 1):  # the first round warms up
        for name, run in runs.items():
            result = run()
            pages[name] = result["pages"]
            if round_:
                seconds[name].append(result["seconds"])
    listing: dict[str, Any] = {"users": members, "rounds": rounds}
    for name in runs:
        listing[name] = {"median_ms": round(statistics.median(seconds[name]) * 1000, 1), "pages": pages[name]}
    for size in (API_PAGE, PAGE):
        group, tenant = listing[f"group_page_{size}"], listing[f"tenant_page_{size}"]
        listing[f"group_over_tenant_page_{size}"] = round(group["median_ms"] / tenant["median_ms"], 2)
    return listing


def list_through_cognito(expected: int) -> dict[str, Any]:
    """ListUsers over the whole pool (60 a call), 16 segments under one 30 RPS limiter."""
    import boto3
    from botocore.config import Config

    from functions.common.backfill.listing import segment_prefixes
    from functions.common.backfill.rate_limit import RateLimiter

    cognito = boto3.client(
        "cognito-idp",
        region_name=REGION,
        config=Config(retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=20),
    )
    limiter = RateLimiter(30.0)
    calls = 0
    lock = threading.Lock()

    def segment(prefix: str) -> int:
        nonlocal calls
        found, token = 0, None
        while True:
            kwargs: dict[str, Any] = {"UserPoolId": POOL_ID, "Limit": 60, "Filter": f'sub ^= "{prefix}"'}
            if token:
                kwargs["PaginationToken"] = token
            limiter.acquire()
            page = cognito.list_users(**kwargs)
            with lock:
                calls += 1
            for user in page["Users"]:
                tenant = next((a["Value"] for a in user["Attributes"] if a["Name"] == "custom:tenant"), None)
                found += tenant == TENANT
            token = page.get("PaginationToken")
            if not token:
                return found

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as workers:
        listed = sum(workers.map(segment, segment_prefixes(16)))
    elapsed = time.perf_counter() - started
    assert listed == expected, f"ListUsers found {listed} of {expected}"
    return {"seconds": round(elapsed, 3), "list_users_calls": calls, "users": listed}


def bench(users: int, tenants: int, samples: int, members: int, groups_only: bool = False) -> dict[str, Any]:

    from models.settings import get_settings
    from scripts.dynamodb_local import start_dynamodb_local
    from scripts.table import GROUP_MEMBERS_TABLE, create_table

    results: dict[str, Any] = {"machine": machine(), "settings": {"users": users, "tenants": tenants}}
    ddb = start_dynamodb_local(DDB_PORT)
    try:
        env = base_env(ddb.endpoint)
        env["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"] = f"http://127.0.0.1:{STANDIN_PORT}"
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        os.environ.update(
            {
                "MIRROR_TABLE": TABLE,
                "MIRROR_GROUP_MEMBERS_TABLE": MEMBERS_TABLE,
                "MIRROR_DDB_READ_TIMEOUT": "10",
                "MIRROR_DDB_MAX_RETRIES": "4",
            }
        )
        get_settings.cache_clear()
        client = ddb_client(ddb.endpoint)
        create_table(client, TABLE)
        create_table(client, MEMBERS_TABLE, resource=GROUP_MEMBERS_TABLE)
        if groups_only:
            results["settings"] = {"group_members": members}
            results["list_group"] = group_vs_tenant(client, members)
            print(json.dumps(results["list_group"]), flush=True)
            results["goals"] = {}
            return results
        results["fill_users_per_s"] = round(fill(client, users, tenants))
        print(f"filled {users} users at {results['fill_users_per_s']}/s", flush=True)
        results["find_by_email"] = find_by_email(client, users, samples)
        print(json.dumps(results["find_by_email"]), flush=True)
        expected = len(range(0, users, tenants))
        listing: dict[str, Any] = {"tenant_users": expected, "pool_users": users, "page": PAGE}
        list_raw_floor(client, expected)  # warm-up: the first pass over an index is slower
        listing["raw_query_floor"] = list_raw_floor(client, expected)
        print(json.dumps(listing["raw_query_floor"]), flush=True)
        listing["directory"] = list_through_directory(expected)
        print(json.dumps(listing["directory"]), flush=True)
        listing["directory_api_page"] = {"page": API_PAGE, **list_through_directory(expected, API_PAGE)}
        print(json.dumps(listing["directory_api_page"]), flush=True)
        options = ["--tenants", str(tenants), "--latency-ms", "100", "--list-rps", "30"]
        with standin(users, port=STANDIN_PORT, options=options) as stats:
            listing["list_users"] = list_through_cognito(expected)
            listing["list_users"]["throttled_by_standin"] = stats().get("ListUsers.throttled", 0)
        print(json.dumps(listing["list_users"]), flush=True)
        listing["speedup"] = round(listing["list_users"]["seconds"] / listing["directory"]["seconds"], 1)
        results["list_tenant"] = listing
        results["list_group"] = group_vs_tenant(client, members)
        print(json.dumps(results["list_group"]), flush=True)
        results["goals"] = {
            "find_p50_ratio_le_1_3": results["find_by_email"]["p50_ratio"] <= 1.3,
            "listing_speedup_ge_20": listing["speedup"] >= 20,
        }
    finally:
        ddb.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--group-members", type=int, default=1000, help="the group of part (c)")
    parser.add_argument("--groups-only", action="store_true", help="part (c) alone")
    args = parser.parse_args()
    write_results(
        RESULTS_GROUPS if args.groups_only else RESULTS,
        lambda: bench(args.users, args.tenants, args.samples, args.group_members, args.groups_only),
    )


if __name__ == "__main__":
    main()
