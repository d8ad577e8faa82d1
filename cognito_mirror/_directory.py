"""The user directory's reads: which index holds an attribute, and its pages of live users.

Only GetItem/Query on the directory indexes (`directory-<slot>`); the key format is
cognito_mirror/index_keys.py, the one the mirror's writes use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cognito_mirror._aws import answered_items, client_errors, dependency_error
from cognito_mirror._errors import DirectoryQueryError
from cognito_mirror._profile import Profile
from cognito_mirror.index_keys import index_name, is_verified, query_keys, slot_attribute
from cognito_mirror.record import is_reserved, is_tombstone


def directory_query(
    indexed_attributes: Sequence[str], attribute: str, value: str, page_size: int
) -> tuple[int, list[str]]:
    """The index slot of `attribute` and the partitions to read for `value`, or DirectoryQueryError."""
    if attribute not in indexed_attributes:
        raise DirectoryQueryError(f"{attribute[:64]!r} is not an indexed attribute")
    if not 1 <= page_size <= 1000:
        raise DirectoryQueryError("page_size must be in 1..1000")
    partitions = query_keys(attribute, value)
    if not partitions:
        raise DirectoryQueryError("the value is empty or too long to be indexed")
    return indexed_attributes.index(attribute), partitions


def live_users(
    ddb: Callable[[], Any], table: str, slot: int, partition: str, page_size: int, verified: str | None
) -> Iterator[Profile]:
    """The live users of one index partition, page by page (tombstones and state rows skipped), who
    have attribute `verified` verified (None: every user).

    `ddb` builds (or returns) the client: a failure to build it is the mirror failing too (503), or
    misconfigured (500) when no retry can fix it (a bad region, missing credentials).
    """
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index_name(slot),
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": slot_attribute(slot)},
        "ExpressionAttributeValues": {":v": {"S": partition}},
        "Limit": page_size,
    }
    while True:
        try:
            response = ddb().query(**kwargs)
        except client_errors() as exc:
            raise dependency_error(exc, "mirror query") from exc
        for item in answered_items("Query", response):
            if is_tombstone(item) or is_reserved(item["sub"]["S"]):
                continue
            profile = Profile.from_item(item)
            if verified is None or is_verified(verified, profile.attributes):
                yield profile
        if not response.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
