"""The user directory's queries: users by the value of an indexed attribute, page by page.

A query reads the index slot of the attribute (`directory-<n>`), one partition per shard, in shard
order and, within a shard, in `sub` order: a stable order, so a continuation (next shard and the
index's LastEvaluatedKey) resumes exactly where a page stopped. Once a shard has been read to its
end, the next shards a page needs are read in parallel (as many as the shard just read suggests),
so a small tenant costs about two round trips rather than sixteen. The HTTP layer signs and encodes a
continuation into an opaque cursor bound to its query. Tombstones and reserved rows never carry an
index key; rows are filtered on them anyway. The indexes are eventually consistent (a write shows
up within about a second). See docs/DIRECTORY.md.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

from cognito_mirror.index_keys import DIRECTORY_SHARDS, index_name, is_verified, query_keys, slot_attribute
from models.directory_layout import check_layout
from models.errors import DirectoryQueryError
from models.record import live_snapshot_from_item
from models.table import MirrorTable, mirror_table
from models.user import UserSnapshot

MAX_PAGE_SIZE = 500


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


def _slot(attribute: str, indexed: tuple[str, ...]) -> int:
    if attribute not in indexed:
        raise DirectoryQueryError(f"{attribute[:64]!r} is not an indexed attribute")
    return indexed.index(attribute)


def _check_last_key(last_key: dict[str, Any], key_name: str, partition: str) -> None:
    """A LastEvaluatedKey of this query's partition (else the query would jump elsewhere)."""
    if set(last_key) != {"sub", key_name} or last_key[key_name] != {"S": partition}:
        raise DirectoryQueryError("the continuation does not belong to this query")
    if not isinstance(last_key["sub"], dict) or not isinstance(last_key["sub"].get("S"), str):
        raise DirectoryQueryError("the continuation does not belong to this query")


@dataclass(frozen=True)
class _Query:
    """One query's table, index, key attribute, partitions (one per shard) and page size; and the
    attribute a user must have verified to be listed (None: every user is)."""

    table: MirrorTable
    index: str
    key_name: str
    partitions: list[str]
    limit: int
    verified: str | None


def _plan(
    table: MirrorTable, attribute: str, value: str, limit: int, after: Continuation | None, unverified: bool
) -> tuple[_Query, int, dict[str, Any] | None]:
    """The query and where its page starts (shard, LastEvaluatedKey), or DirectoryQueryError."""
    slot = _slot(attribute, table.config.indexed_attributes)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise DirectoryQueryError(f"limit must be in 1..{MAX_PAGE_SIZE}")
    partitions = query_keys(attribute, value)
    if not partitions:
        raise DirectoryQueryError("the value is empty or too long to be indexed")
    shard, last_key = (after.shard, after.last_key) if after is not None else (0, None)
    if not 0 <= shard < len(partitions):
        raise DirectoryQueryError("the continuation does not belong to this query")
    check_layout(table, attribute, slot)
    key_name = slot_attribute(slot)
    if last_key is not None:
        _check_last_key(last_key, key_name, partitions[shard])
    verified = None if unverified else attribute
    return _Query(table, index_name(slot), key_name, partitions, limit, verified), shard, last_key


def query_users(
    attribute: str,
    value: str,
    *,
    limit: int,
    after: Continuation | None = None,
    table: MirrorTable | None = None,
    include_unverified: bool = False,
) -> DirectoryPage:
    """Up to `limit` live users whose `attribute` equals `value` (normalised), from `after` on, in
    `table` (the process's by default) under its indexed attributes. By e-mail, only users whose
    address is verified unless `include_unverified` (filtered here, so every page but the last is
    still full and a continuation resumes exactly)."""
    query, shard, last_key = _plan(
        table or mirror_table(), attribute, value, limit, after, include_unverified
    )
    users: list[UserSnapshot] = []
    width = 1  # shards read at once: 1 until a shard read whole tells how full shards are
    whole: list[int] = []  # sizes of the shards read whole (from their start to their end)
    while True:
        page, shard, last_key = _read_batch(query, users, shard, last_key, width, whole)
        if page is not None:
            return page
        width = _width(limit - len(users), whole, len(query.partitions) - shard)


def _read_batch(
    query: _Query,
    users: list[UserSnapshot],
    shard: int,
    last_key: dict[str, Any] | None,
    width: int,
    whole: list[int],
) -> tuple[DirectoryPage | None, int, dict[str, Any] | None]:
    """Read `width` shards from `shard` into `users`: the page once it is complete, else where to go on."""
    batch = range(shard, min(shard + width, len(query.partitions)))
    starts = [last_key] + [None] * (len(batch) - 1)
    want = query.limit - len(users)
    answers = _read_shards(query, [query.partitions[s] for s in batch], starts, want)
    for current, start, (items, next_key) in zip(batch, starts, answers, strict=True):
        page = _take(query, users, current, items)
        if page is not None:
            return page, current, None
        if next_key is not None:  # this shard goes on: the page is full, or read it further
            shard, last_key = current, next_key
            break
        if start is None:
            whole.append(len(items))
        shard, last_key = current + 1, None
        if shard == len(query.partitions):
            return DirectoryPage(users, None), shard, None
        if len(users) >= query.limit:
            return DirectoryPage(users, Continuation(shard, None)), shard, None
    if len(users) >= query.limit:
        return DirectoryPage(users, Continuation(shard, last_key)), shard, last_key
    return None, shard, last_key


def _take(
    query: _Query, users: list[UserSnapshot], shard: int, items: list[dict[str, Any]]
) -> DirectoryPage | None:
    """Add the live users of one answer; the page when it fills inside the answer."""
    for position, item in enumerate(items):
        found = live_snapshot_from_item(item)
        if found is not None and (query.verified is None or is_verified(query.verified, found.attributes)):
            users.append(found)
        if len(users) == query.limit and position < len(items) - 1:
            # The page fills inside this answer: resume right after the last item taken.
            resume = {query.key_name: {"S": query.partitions[shard]}, "sub": item["sub"]}
            return DirectoryPage(users, Continuation(shard, resume))
    return None


def _width(want: int, whole: list[int], remaining: int) -> int:
    """How many shards to read at once next: as many as the page still needs if shards hold what
    the shards read whole held (all the rest when those were empty), so that a large tenant reads
    about one shard beyond its page and a small one takes two round trips."""
    if not whole:
        return 1
    typical = sum(whole) / len(whole)
    needed = remaining if typical < 1 else math.ceil(want / typical)
    return max(1, min(needed, remaining))


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=DIRECTORY_SHARDS, thread_name_prefix="directory")


def _read_shards(
    query: _Query, partitions: list[str], starts: list[dict[str, Any] | None], limit: int
) -> list[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
    """One Query page of each partition (in parallel when there are several), in order."""

    Answer = tuple[list[dict[str, Any]], dict[str, Any] | None]

    def read(partition: str, start: dict[str, Any] | None) -> Answer:
        return query.table.query_index(query.index, query.key_name, partition, limit=limit, start_key=start)

    if len(partitions) == 1:
        return [read(partitions[0], starts[0])]
    return list(_pool().map(read, partitions, starts))
