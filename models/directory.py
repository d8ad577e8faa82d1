"""The user directory's queries: users by the value of an indexed attribute, page by page.

A query reads the index slot of the attribute (`directory-<n>`), one partition per shard, in shard
order and, within a shard, in `sub` order: a stable order, so a continuation (next shard and the
index's LastEvaluatedKey) resumes exactly where a page stopped. The HTTP layer signs and encodes a
continuation into an opaque cursor bound to its query. Tombstones and reserved rows never carry an
index key; rows are filtered on them anyway. The indexes are eventually consistent (a write shows
up within about a second). See docs/DIRECTORY.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cognito_mirror.index_keys import index_name, query_keys, slot_attribute
from models.mirror_table import RESERVED_PREFIX, MirrorRecord, query_index
from models.settings import get_settings
from models.user import UserSnapshot

MAX_PAGE_SIZE = 500


class DirectoryQueryError(ValueError):
    """A query the directory cannot answer: attribute not indexed, unusable value or limit, or a
    continuation that does not belong to the query (a caller's fault, a 4xx)."""


@dataclass(frozen=True)
class Continuation:
    """Where the next page starts: a shard of the query and the index's LastEvaluatedKey in it
    (None: the shard's beginning)."""

    shard: int
    last_key: dict[str, Any] | None = None


@dataclass(frozen=True)
class DirectoryPage:
    users: list[UserSnapshot]
    # None: the listing is complete.
    next: Continuation | None


def listable(row: MirrorRecord) -> bool:
    """A live user's row (never a tombstone or reserved engine state)."""
    return not row.is_tombstone and not row.sub.startswith(RESERVED_PREFIX)


def _slot(attribute: str) -> int:
    indexed = get_settings().indexed_attributes
    if attribute not in indexed:
        raise DirectoryQueryError(f"{attribute[:64]!r} is not an indexed attribute")
    return indexed.index(attribute)


def _check_last_key(last_key: dict[str, Any], key_name: str, partition: str) -> None:
    """A LastEvaluatedKey of this query's partition (else the query would jump elsewhere)."""
    if set(last_key) != {"sub", key_name} or last_key[key_name] != {"S": partition}:
        raise DirectoryQueryError("the continuation does not belong to this query")
    if not isinstance(last_key["sub"], dict) or not isinstance(last_key["sub"].get("S"), str):
        raise DirectoryQueryError("the continuation does not belong to this query")


def query_users(
    attribute: str, value: str, *, limit: int, after: Continuation | None = None
) -> DirectoryPage:
    """Up to `limit` live users whose `attribute` equals `value` (normalised), from `after` on."""
    slot = _slot(attribute)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise DirectoryQueryError(f"limit must be in 1..{MAX_PAGE_SIZE}")
    partitions = query_keys(attribute, value)
    if not partitions:
        raise DirectoryQueryError("the value is empty or too long to be indexed")
    shard, last_key = (after.shard, after.last_key) if after is not None else (0, None)
    if not 0 <= shard < len(partitions):
        raise DirectoryQueryError("the continuation does not belong to this query")
    key_name = slot_attribute(slot)
    if last_key is not None:
        _check_last_key(last_key, key_name, partitions[shard])
    users: list[UserSnapshot] = []
    while True:
        rows, last_key = query_index(
            index_name(slot), key_name, partitions[shard], limit=limit - len(users), start_key=last_key
        )
        users += [row.to_snapshot() for row in rows if listable(row)]
        if last_key is None:
            shard += 1
            if shard == len(partitions):
                return DirectoryPage(users, None)
        if len(users) >= limit:
            return DirectoryPage(users, Continuation(shard, last_key))
