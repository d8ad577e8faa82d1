"""Cognito triggers: warm p50/p99 vs a raw conditional PutItem, and the return time when
DynamoDB is unreachable (a socket that accepts and never answers; a closed port)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from bench.fixtures import FakeLambdaContext, load_event
from bench.stack import CLOSED_PORT, SILENT_PORT, TABLE, SilentServer, Stack
from bench.stats import Figure, Report, figure, quiet_stdout, timed, timed_pair
from models import guard
from models.user import now_us
from scripts.dynamodb_local import LocalServiceError, port_in_use

# Trigger module -> its event fixture in tests/events.
TRIGGERS = {
    "post_confirmation": "post_confirmation_confirm_signup",
    "post_authentication": "post_authentication",
}
UNREACHABLE_GOAL_S = 2.5


def _handler(name: str) -> Callable[[Any, Any], Any]:
    module = importlib.import_module(f"functions.{name}")
    handler: Callable[[Any, Any], Any] = module.handler
    return handler


def raw_conditional_put(client: Any, event: dict[str, Any]) -> Callable[[], None]:
    """A boto3 conditional PutItem of the same user's row, newer each call (always lands)."""
    attrs = event["request"]["userAttributes"]
    kept = {k: {"S": v} for k, v in attrs.items() if not k.startswith(("sub", "cognito:"))}

    def put() -> None:
        stamp = now_us()
        client.put_item(
            TableName=TABLE,
            Item={
                "sub": {"S": attrs["sub"]},
                "username": {"S": event["userName"]},
                "attributes": {"M": kept},
                "status": {"S": "CONFIRMED"},
                "enabled": {"BOOL": True},
                "observed_at": {"N": str(stamp)},
                "source": {"S": "raw"},
                "deleted": {"BOOL": False},
            },
            **guard.condition_expression(guard.SNAPSHOT, stamp),
        )

    return put


def _rebind(endpoint: str) -> None:
    """Point the mirror at another DynamoDB endpoint (fresh settings, fresh table client)."""
    from models.settings import get_settings
    from models.table import table_for_settings

    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    get_settings.cache_clear()
    table_for_settings.cache_clear()


def unreachable(name: str, endpoint: str, label: str, samples: int) -> Figure:
    handler = _handler(name)
    event = load_event(TRIGGERS[name])
    context = FakeLambdaContext()
    previous = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
    _rebind(endpoint)
    try:
        with quiet_stdout():
            values = timed(lambda: handler(event, context), samples, max_seconds=60)
    finally:
        _rebind(previous)
    return figure(
        f"{name}: return with DynamoDB {label}", values, unit="s", stat="max", at_most=UNREACHABLE_GOAL_S
    )


def run(stack: Stack, *, samples: int, unreachable_samples: int) -> Report:
    client = stack.ddb_client()
    context = FakeLambdaContext()
    report = Report("triggers", setup={"dynamodb": stack.dynamodb.endpoint, "table": TABLE})
    for name in TRIGGERS:
        handler = _handler(name)
        event = load_event(TRIGGERS[name])

        def call(handler: Callable[[Any, Any], Any] = handler, event: dict[str, Any] = event) -> None:
            if handler(event, context) is not event:
                raise RuntimeError("the trigger did not return its event")

        with quiet_stdout():
            trig, raw = timed_pair(
                call, raw_conditional_put(client, event), samples, warmup=min(200, samples)
            )
        report.figures.append(
            figure(
                f"{name} trigger (DynamoDB Local)",
                trig,
                baseline=("raw conditional put_item", raw),
                unit="ms",
                stat="p99",
                at_most=2.0,
            )
        )
    silent = SilentServer(SILENT_PORT)
    try:
        for name in TRIGGERS:
            report.figures.append(
                unreachable(name, silent.endpoint, "hung (accepts, never answers)", unreachable_samples)
            )
    finally:
        silent.stop()
    if port_in_use(CLOSED_PORT):
        raise LocalServiceError(f"port {CLOSED_PORT} should be closed (set BENCH_CLOSED_PORT)")
    closed = f"http://127.0.0.1:{CLOSED_PORT}"
    for name in TRIGGERS:
        report.figures.append(unreachable(name, closed, "port closed", unreachable_samples * 4))
    return report
