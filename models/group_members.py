"""The group-members table as the sync reads it: who the mirror last saw in a group.

The table is a projection of the mirror's rows (cognito_mirror/group_members.py holds its keys; the
stream function `groupMembers` keeps it): the sync reads it to find the members of a deleted group,
whose rows each lose that one group (models.table.MirrorTable.remove_group).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cognito_mirror.group_members import GROUP_KEY, MEMBER, SUB, query_keys
from models.errors import TableUnavailableError, error_code


def member_subs(client: Any, table: str, group: str) -> Iterator[str]:
    """The subs whose membership of `group` the table holds as current (`member` true), shard by
    shard in `sub` order; every page of each shard (a Query, eventually consistent)."""
    for key in query_keys(group):
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "#key = :key",
            "FilterExpression": "#member = :true",
            "ProjectionExpression": "#sub",
            "ExpressionAttributeNames": {"#key": GROUP_KEY, "#member": MEMBER, "#sub": SUB},
            "ExpressionAttributeValues": {":key": {"S": key}, ":true": {"BOOL": True}},
        }
        while True:
            try:
                response = client.query(**kwargs)
            except (BotoCoreError, ClientError) as exc:
                raise TableUnavailableError(f"group members query failed: {error_code(exc)}") from exc
            yield from (item[SUB]["S"] for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
