"""Shared pieces of the group-members tests: mirror rows with a membership, stream records of them,
the projection's handler, and the group-members table read back."""

from __future__ import annotations

from typing import Any

import boto3

from cognito_mirror.group_members import member_key
from tests.support.fixtures import GROUP_MEMBERS, TABLE
from tests.support.helpers import FakeLambdaContext

T0 = 1_764_000_000_000_000


def store_member(sub: str, groups: list[str], *, observed: int = T0, **attributes: str) -> None:
    """A live row (the mirror's own write path) whose membership is `groups`, observed at `observed`."""
    from models.table import mirror_table
    from models.user import UserSnapshot

    attributes = attributes or {"email": f"{sub}@example.com", "email_verified": "true"}
    mirror_table().put_snapshot(UserSnapshot(sub, f"user-{sub}", attributes, "CONFIRMED", True, T0, "test"))
    update = "SET groups_observed_at = :o" + (", #g = :g" if groups else " REMOVE #g")
    values: dict[str, Any] = {":o": {"N": str(observed)}}
    if groups:
        values[":g"] = {"SS": groups}
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"sub": {"S": sub}},
        UpdateExpression=update,
        ExpressionAttributeNames={"#g": "groups"},
        ExpressionAttributeValues=values,
    )


def tombstone_image(sub: str, observed: int) -> dict[str, Any]:
    """A tombstone as the stream's images hold it."""
    return {
        "sub": {"S": sub},
        "observed_at": {"N": str(observed)},
        "source": {"S": "sync"},
        "deleted": {"BOOL": True},
        "expires_at": {"N": "1800000000"},
    }


def row_image(sub: str) -> dict[str, Any] | None:
    """The row as the stream's images hold it (None: no row)."""
    item: dict[str, Any] | None = (
        boto3.client("dynamodb").get_item(TableName=TABLE, Key={"sub": {"S": sub}}).get("Item")
    )
    return item


def stream_record(old: dict[str, Any] | None, new: dict[str, Any] | None, sequence: int) -> dict[str, Any]:
    """A DynamoDB Streams record of the mirror table (INSERT, MODIFY or REMOVE)."""
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    images: dict[str, Any] = {"SequenceNumber": f"{sequence:021d}", "StreamViewType": "NEW_AND_OLD_IMAGES"}
    source = new or old
    assert source is not None
    images["Keys"] = {"sub": source["sub"]}
    if old is not None:
        images["OldImage"] = old
    if new is not None:
        images["NewImage"] = new
    return {
        "eventID": f"e{sequence}",
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.1",
        "awsRegion": "eu-west-1",
        "dynamodb": images,
        "eventSourceARN": f"arn:aws:dynamodb:eu-west-1:123456789012:table/{TABLE}/stream/2026-01-01",
    }


def project(*records: dict[str, Any]) -> dict[str, Any]:
    """Run the groupMembers handler on one batch; its partial batch response."""
    from functions import group_members

    response: dict[str, Any] = group_members.handler({"Records": list(records)}, FakeLambdaContext())
    return response


def membership(group: str, sub: str) -> dict[str, Any] | None:
    """The group-members table's item of `sub` in `group`, or None."""
    item: dict[str, Any] | None = (
        boto3.client("dynamodb")
        .get_item(
            TableName=GROUP_MEMBERS, Key={"group_key": {"S": member_key(group, sub)}, "sub": {"S": sub}}
        )
        .get("Item")
    )
    return item
