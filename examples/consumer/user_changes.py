"""The mirror's user change events → this service's own replica of the users it cares about.

An EventBridge rule on the mirror's bus (serverless.yml `userChanges`) delivers `User Created`,
`User Updated` and `User Deleted` (the mirror's docs/EVENTS.md; detail shapes in its schemas/events/).
Delivery is at least once and unordered, so each write is a conditional put that keeps, per `sub`,
the event with the highest `version`: a duplicate (same id, same version) or an older event changes
nothing. A deletion keeps the sub, the version and the event id, no attribute value.

A version is when the mirror observed the change (µs since the epoch), so a genuine one is never
ahead of this function's clock by more than the clocks' skew. A version further ahead, or one that
is no integer, is refused and counted (`UserEventImplausibleVersion`): stored, a forged or corrupt
event would outrank every genuine event of that user until then. The mirror's bus lets only its
publisher put events; a consumer that must be sure of a value re-reads it from the mirror with the
reader library (`cognito_mirror`).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, NotRequired, TypedDict

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

logger = Logger()
metrics = Metrics(namespace="MirrorConsumer")
TABLE = os.environ["USER_REPLICA_TABLE"]
_table = boto3.resource("dynamodb").Table(TABLE)
# How far ahead of this clock a version may be: Lambda's clocks agree within milliseconds; a
# minute also covers a local machine's. A forged version can hold a user back at most this long.
MAX_VERSION_SKEW_SECONDS = 60


class Profile(TypedDict):
    sub: str
    username: str
    attributes: dict[str, str]
    status: str
    enabled: bool
    updated_at: str
    groups: NotRequired[list[str] | None]  # sorted; [] no group, None not observed yet


class UserChange(TypedDict):
    """`detail` of the mirror's events (schemas/events/user-*.v2.json)."""

    id: str
    sub: str
    username: NotRequired[str]  # created/updated, `full` payload
    version: int
    writer: str
    changes: list[str]
    profile: NotRequired[Profile]  # created/updated, `full` payload
    previous: NotRequired[dict[str, Any]]  # updated, `full` payload


def version_is_plausible(version: Any, now_us: int) -> bool:
    """A version this consumer may store: a non-negative integer not beyond now plus the skew."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        return False
    return version <= now_us + MAX_VERSION_SKEW_SECONDS * 1_000_000


def loggable_id(value: Any) -> str:
    """An event id as the mirror makes it (a UUID), or a placeholder: a forged one may hold anything."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return "<not a uuid>"


def replica_item(detail_type: str, change: UserChange) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sub": change["sub"],
        "version": change["version"],
        "event_id": change["id"],
        "detail_type": detail_type,
        "writer": change["writer"],
        "changes": change["changes"],
        "received_at_ms": int(time.time() * 1000),
    }
    if detail_type == "User Deleted":
        item["deleted"] = True
        return item
    if "profile" in change:
        item["attributes"] = change["profile"]["attributes"]
        item["enabled"] = change["profile"]["enabled"]
    if "previous" in change:
        item["previous"] = change["previous"]
    return item


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, bool]:
    # A result, not None: serverless-offline's Python runner waits for a non-null one until the timeout.
    change: UserChange = event.detail  # type: ignore[assignment]
    event_id = loggable_id(change.get("id"))
    if not version_is_plausible(change.get("version"), time.time_ns() // 1000):
        metrics.add_metric(name="UserEventImplausibleVersion", unit=MetricUnit.Count, value=1)
        logger.warning("event refused: implausible version", extra={"event_id": event_id})
        return {"stored": False}
    try:
        _table.put_item(
            Item=replica_item(event.detail_type, change),
            # Last writer wins by version: duplicates and late (older) events are dropped.
            ConditionExpression="attribute_not_exists(#sub) OR #version < :version",
            ExpressionAttributeNames={"#sub": "sub", "#version": "version"},
            ExpressionAttributeValues={":version": change["version"]},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise  # EventBridge retries the target
        logger.info("duplicate or older event ignored", extra={"event_id": event_id})
        return {"stored": False}
    logger.info(
        "replica updated",
        extra={"event_id": event_id, "detail_type": event.detail_type, "changes": change["changes"]},
    )
    return {"stored": True}
