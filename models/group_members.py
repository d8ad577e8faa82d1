"""The group-members table (key format: cognito_mirror/group_members.py) as one data-access object:
the projection's guarded writes, the Query pages a group's listing reads, and the current members
of a group (the sync's lookup of a deleted group's members).

A membership item lands only where the item is missing or holds an older version (`observed_at`):
an older or replayed stream record never undoes a newer one, a duplicate is a no-op. A removed
membership stays as `member: false` until its TTL (`expires_at`), so that no late record re-adds it.
Only the groupMembers function writes this table; readers Query it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cognito_mirror.directory import query_request
from cognito_mirror.group_members import (
    EXPIRES_AT,
    GROUP,
    GROUP_KEY,
    MEMBER,
    OBSERVED_AT,
    SUB,
    member_key,
    query_keys,
)
from models.errors import TableUnavailableError, error_code
from models.guard import WriteOutcome
from models.settings import ConfigurationError, Settings, get_settings
from models.table import TableConfig, table_client

# Lands on a missing item or an older version; an equal one is a duplicate.
_NEWER = "attribute_not_exists(#key) OR #observed < :observed"


class GroupMembersTable:
    """Who is in which group, one item per (group, user) ever seen."""

    def __init__(self, config: TableConfig) -> None:
        self.name, self.config = config.table_name, config

    @cached_property
    def client(self) -> Any:
        """This table's DynamoDB client (created on first use)."""
        return table_client(self.config)

    def put_membership(self, group: str, sub: str, *, member: bool, observed_at: int) -> WriteOutcome:
        """Record that `sub` is (or is no longer) in `group` as of `observed_at` (µs), unless the
        table already holds that membership at this version or a newer one."""
        item: dict[str, Any] = {
            GROUP_KEY: {"S": member_key(group, sub)},
            SUB: {"S": sub},
            GROUP: {"S": group},
            MEMBER: {"BOOL": member},
            OBSERVED_AT: {"N": str(observed_at)},
        }
        if not member:
            expires = datetime.now(UTC) + timedelta(days=self.config.tombstone_ttl_days)
            item[EXPIRES_AT] = {"N": str(int(expires.timestamp()))}
        try:
            self.client.put_item(
                TableName=self.name,
                Item=item,
                ConditionExpression=_NEWER,
                ExpressionAttributeNames={"#key": GROUP_KEY, "#observed": OBSERVED_AT},
                ExpressionAttributeValues={":observed": {"N": str(observed_at)}},
            )
        except (BotoCoreError, ClientError) as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return WriteOutcome.SKIPPED
            raise TableUnavailableError(f"group-members write failed: {error_code(exc)}") from exc
        return WriteOutcome.WRITTEN

    def query_page(
        self, index: str | None, key_name: str, partition: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One Query page of a partition (`index` None: the table's own key), in `sub` order: its
        raw items and LastEvaluatedKey (the directory's `QueryPage`)."""
        try:
            response = self.client.query(**query_request(self.name, index, key_name, partition, limit, start))
        except (BotoCoreError, ClientError) as exc:
            raise TableUnavailableError(f"group-members query failed: {error_code(exc)}") from exc
        return response.get("Items", []), response.get("LastEvaluatedKey")

    def member_subs(self, group: str) -> Iterator[str]:
        """The subs whose membership of `group` the table holds as current (`member` true), shard by
        shard in `sub` order; every page of each shard (a Query, eventually consistent)."""
        for key in query_keys(group):
            kwargs: dict[str, Any] = {
                "TableName": self.name,
                "KeyConditionExpression": "#key = :key",
                "FilterExpression": "#member = :true",
                "ProjectionExpression": "#sub",
                "ExpressionAttributeNames": {"#key": GROUP_KEY, "#member": MEMBER, "#sub": SUB},
                "ExpressionAttributeValues": {":key": {"S": key}, ":true": {"BOOL": True}},
            }
            while True:
                try:
                    response = self.client.query(**kwargs)
                except (BotoCoreError, ClientError) as exc:
                    raise TableUnavailableError(f"group members query failed: {error_code(exc)}") from exc
                yield from (item[SUB]["S"] for item in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@lru_cache(maxsize=1)
def members_table_for_settings(settings: Settings) -> GroupMembersTable:
    """One group-members table per settings (`members_table_for_settings.cache_clear()` in tests)."""
    if settings.group_members_table_name is None:
        raise ConfigurationError("MIRROR_GROUP_MEMBERS_TABLE is not set: name the group-members table")
    return GroupMembersTable(
        replace(TableConfig.from_settings(settings), table_name=settings.group_members_table_name)
    )


def group_members_table() -> GroupMembersTable:
    """The process's group-members table, built once from `get_settings()`."""
    return members_table_for_settings(get_settings())
