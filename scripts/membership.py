"""A user's group membership written straight to the mirror's row, guarded as the mirror's own
membership write is: for the demo's and the bench's stand-ins and the readers' tests, where the
sync that normally writes it is not the subject."""

from __future__ import annotations

from typing import Any


def write_groups(client: Any, table: str, sub: str, groups: list[str], *, observed_at: int) -> bool:
    """Set a row's `groups` (none: the set removed) observed at `observed_at`, guarded as the mirror's
    membership write is (a live row only; an older or equal observation never wins): stands in for
    the sync's write where it is not the subject. False when the guard refused it."""
    from botocore.exceptions import ClientError

    values: dict[str, Any] = {":at": {"N": str(observed_at)}, ":deleted": {"BOOL": True}}
    update = "SET groups_observed_at = :at"
    if groups:
        update += ", #groups = :groups"
        values[":groups"] = {"SS": sorted(set(groups))}
    else:
        update += " REMOVE #groups"
    try:
        client.update_item(
            TableName=table,
            Key={"sub": {"S": sub}},
            UpdateExpression=update,
            ConditionExpression=(
                "attribute_exists(#sub) AND #deleted <> :deleted"
                " AND (attribute_not_exists(groups_observed_at) OR groups_observed_at < :at)"
            ),
            ExpressionAttributeNames={"#sub": "sub", "#groups": "groups", "#deleted": "deleted"},
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
