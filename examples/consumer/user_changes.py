"""The mirror's user change events → this service's own replica of the users it cares about.

An EventBridge rule on the mirror's bus (serverless.yml `userChanges`) delivers `User Created`,
`User Updated` and `User Deleted` (the mirror's docs/EVENTS.md; detail shapes in its schemas/events/).
Delivery is at least once and unordered, so each write is a conditional put that keeps, per `sub`,
the event with the highest `version`: a duplicate (same id, same version) or an older event changes
nothing. A deletion keeps the sub, the version and the event id, no attribute value.
"""

from __future__ import annotations

import os
import time
from typing import Any, NotRequired, TypedDict

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

logger = Logger()
TABLE = os.environ["USER_REPLICA_TABLE"]
_table = boto3.resource("dynamodb").Table(TABLE)


class Profile(TypedDict):
    sub: str
    username: str
    attributes: dict[str, str]
    status: str
    enabled: bool
    updated_at: str


class UserChange(TypedDict):
    """`detail` of the mirror's events (schemas/events/user-*.v1.json)."""

    id: str
    sub: str
    username: str | None
    version: int
    writer: str
    changes: list[str]
    profile: NotRequired[Profile]  # created/updated, `full` payload
    previous: NotRequired[dict[str, Any]]  # updated, `full` payload


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
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, bool]:
    # A result, not None: serverless-offline's Python runner waits for a non-null one until the timeout.
    change: UserChange = event.detail  # type: ignore[assignment]
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
        logger.info("duplicate or older event ignored", extra={"event_id": change["id"]})
        return {"stored": False}
    logger.info(
        "replica updated",
        extra={"event_id": change["id"], "detail_type": event.detail_type, "changes": change["changes"]},
    )
    return {"stored": True}
