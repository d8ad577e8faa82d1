"""A user's mirrored groups written straight to the row: the membership write's guarded UpdateItem
(a live row only, an older observation never wins), for tests of the readers' side."""

from __future__ import annotations

from botocore.exceptions import ClientError

from models.table import mirror_table
from models.user import now_us


def write_groups(sub: str, groups: list[str], *, observed_at: int | None = None) -> bool:
    """Set the row's `groups` (none: the set removed) observed at `observed_at` (now by default);
    False when the guard refused it (no live row, or a newer or equal observation stored)."""
    table = mirror_table()
    values: dict[str, dict[str, object]] = {
        ":at": {"N": str(observed_at if observed_at is not None else now_us())},
        ":deleted": {"BOOL": True},
    }
    update = "SET groups_observed_at = :at"
    if groups:
        update += ", #groups = :groups"
        values[":groups"] = {"SS": sorted(set(groups))}
    else:
        update += " REMOVE #groups"
    try:
        table.client.update_item(
            TableName=table.name,
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
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True
