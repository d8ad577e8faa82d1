"""Warm `GET /me` through functions.api.handler: cache hit, and cache miss vs a raw GetItem; and the
example consumer's `GET /hello` in its resolver: a cache hit beside the same route on Powertools
alone (a constant, no profile_middleware), and a cache miss vs a raw GetItem; and the library's own
share of a warm hit: a resolver with profile_middleware and caller_profile against the same resolver
without them, interleaved."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from bench.cold_start import CONSUMER_DIR
from bench.fixtures import FakeLambdaContext, get_hello_event, get_me_event, seed_user
from bench.stack import TABLE, Stack
from bench.stats import Report, figure, interleaved, quiet_stdout, timed


def call_get_me(handler: Any, event: dict[str, Any], context: Any) -> None:
    response = handler(event, context)
    if response["statusCode"] != 200:
        raise RuntimeError(f"GET /me answered {response['statusCode']}: {response.get('body')}")


def consumer_app() -> Any:
    """The example consumer's resolver, its module imported as its own service imports it."""
    if str(CONSUMER_DIR) not in sys.path:
        sys.path.insert(0, str(CONSUMER_DIR))
    return importlib.import_module("hello").app


HELLO = {"message": "Hello Ada of acme!", "given_name": "Ada", "tenant": "acme"}


def bare_resolver(*, with_library: bool = False) -> Any:
    """The consumer's route on Powertools alone: a resolver answering a constant; `with_library`:
    the same route behind profile_middleware, reading caller_profile (the library's share is the
    difference)."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from cognito_mirror import caller_profile, profile_middleware

    app = APIGatewayHttpResolver()
    if with_library:
        app.use(middlewares=[profile_middleware])

    @app.get("/hello")
    def hello() -> dict[str, Any]:
        if with_library:
            caller_profile(app)
        return HELLO

    return app


def run(stack: Stack, *, hits: int, misses: int) -> Report:
    from cognito_mirror import default_reader
    from functions.api import app, handler
    from functions.common.reader import mirror_reader
    from models.table import mirror_table

    snapshot = seed_user()  # idempotent: a newer snapshot of the same user
    event = get_me_event()
    context = FakeLambdaContext()
    client = stack.ddb_client()
    key = {"sub": {"S": snapshot.sub}}

    def raw_get_item() -> None:
        if "Item" not in client.get_item(TableName=TABLE, Key=key):
            raise RuntimeError("raw GetItem found no item")

    def get_me() -> None:
        call_get_me(handler, event, context)

    def resolve_me() -> None:
        call_get_me(app.resolve, event, context)

    consumer = consumer_app()
    hello_event = get_hello_event()

    def resolve_hello() -> None:
        call_get_me(consumer.resolve, hello_event, context)

    bare = bare_resolver()
    library = bare_resolver(with_library=True)

    def resolve_bare() -> None:
        call_get_me(bare.resolve, hello_event, context)

    def resolve_library() -> None:
        call_get_me(library.resolve, hello_event, context)

    # The miss, and the layers under it, each against the raw GetItem in the same rounds; and a hit
    # between network calls (every miss refills the cache), where the CPU caches are no longer hot.
    calls = {
        "hit": get_me,
        "handler": get_me,
        "reader": lambda: mirror_reader().get(snapshot.sub),
        "record": lambda: mirror_table().get_record(snapshot.sub),
        "consumer": resolve_hello,
        "raw": raw_get_item,
    }
    empty = mirror_reader().cache.clear
    consumer_empty = default_reader().cache.clear  # the consumer's reader (profile_middleware's)
    with quiet_stdout():
        hit = timed(get_me, hits, warmup=min(1000, hits))
        resolver_hit = timed(resolve_me, hits, warmup=min(1000, hits))
        consumer_hit = timed(resolve_hello, hits, warmup=min(1000, hits))
        bare_hit = timed(resolve_bare, hits, warmup=min(1000, hits))
        share = interleaved({"library": resolve_library, "bare": resolve_bare}, hits, warmup=min(1000, hits))
        miss = interleaved(
            calls,
            misses,
            warmup=min(200, misses),
            before={"handler": empty, "reader": empty, "consumer": consumer_empty},
        )
    raw_name = "raw boto3 get_item, same item"
    figures = [
        figure("GET /me warm, cache hit (in-process, back to back)", hit, unit="us", at_most=100e-6),
        figure(
            "  the same hit in the resolver only (app.resolve: no logger/metrics wrapper)",
            resolver_hit,
            unit="us",
            at_most=50e-6,
        ),
        figure(
            "example consumer GET /hello warm, cache hit in its resolver (app.resolve, back to back)",
            consumer_hit,
            unit="us",
            at_most=50e-6,
            note="examples/consumer/hello.py: profile_middleware, the route, Powertools' Response",
        ),
        figure(
            "  the same route on the Powertools resolver alone (a constant, no profile_middleware)",
            bare_hit,
            unit="us",
            note="the library's own share of a warm hit: the consumer's hit minus this",
        ),
        figure(
            "the library's share: the constant route behind profile_middleware + caller_profile",
            share["library"],
            baseline=("the same resolver, no profile_middleware", share["bare"]),
            unit="us",
            note="interleaved rounds, one process, the same event and the same cached profile",
        ),
        figure(
            "  the share: per-round difference of the two",
            [lib - bare for lib, bare in zip(share["library"], share["bare"], strict=True)],
            unit="us",
            at_most=5e-6,
            note="a dict lookup is the floor; where the rest goes: docs/PERFORMANCE.md",
        ),
        figure(
            "GET /me warm, cache hit, between network calls",
            miss["hit"],
            unit="us",
            note="same code as the back-to-back hit, timed in the miss rounds: the network calls in between"
            " cool the CPU caches (the goal applies to the back-to-back figure; see docs/PERFORMANCE.md)",
        ),
        figure(
            "GET /me warm, cache miss (DynamoDB Local)",
            miss["handler"],
            baseline=(raw_name, miss["raw"]),
            unit="ms",
            at_most=1.2,
        ),
        *(
            figure(
                label, miss[name], baseline=(raw_name, miss["raw"]), unit="ms", note="breakdown of the miss"
            )
            for label, name in (
                ("  under it: MirrorReader.get miss (no handler)", "reader"),
                ("  beside it: get_record (GetItem parsed into the engine's model)", "record"),
                ("example consumer GET /hello warm, cache miss in its resolver (DynamoDB Local)", "consumer"),
            )
        ),
    ]
    return Report("api", figures=figures, setup={"dynamodb": stack.dynamodb.endpoint, "table": TABLE})
