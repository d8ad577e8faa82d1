"""Warm `GET /me` through functions.api.handler: cache hit, and cache miss vs a raw GetItem."""

from __future__ import annotations

from typing import Any

from bench.fixtures import FakeLambdaContext, get_me_event, seed_user
from bench.stack import TABLE, Stack
from bench.stats import Report, absolute, quiet_stdout, timed, timed_pair, versus


def call_get_me(handler: Any, event: dict[str, Any], context: Any) -> None:
    response = handler(event, context)
    if response["statusCode"] != 200:
        raise RuntimeError(f"GET /me answered {response['statusCode']}: {response.get('body')}")


def run(stack: Stack, *, hits: int, misses: int) -> Report:
    from functions.api import handler
    from functions.common.profiles import profile_cache

    snapshot = seed_user()
    event = get_me_event()
    context = FakeLambdaContext()
    client = stack.ddb_client()
    key = {"sub": {"S": snapshot.sub}}

    def raw_get_item() -> None:
        if "Item" not in client.get_item(TableName=TABLE, Key=key):
            raise RuntimeError("raw GetItem found no item")

    def get_me() -> None:
        call_get_me(handler, event, context)

    with quiet_stdout():
        hit = timed(get_me, hits, warmup=min(1000, hits))
        miss, raw = timed_pair(
            get_me, raw_get_item, misses, warmup=min(200, misses), before=profile_cache().clear
        )
    report = Report("api", setup={"dynamodb": stack.dynamodb.endpoint, "table": TABLE})
    report.figures.append(
        absolute("GET /me warm, cache hit (in-process)", hit, unit="us", stat="median", limit=100e-6)
    )
    report.figures.append(
        versus(
            "GET /me warm, cache miss (DynamoDB Local)",
            miss,
            "raw boto3 get_item, same item",
            raw,
            unit="ms",
            max_ratio=1.3,
        )
    )
    return report
