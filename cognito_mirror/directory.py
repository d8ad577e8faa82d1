"""The user directory's query: users by the value of an indexed attribute, page by page. The one
query of the project: `MirrorReader.iter_users`/`find_by_email` and the mirror's GET /users and
`directory` command (models/directory.py) all run it, each with its own Query call.

A query reads the index slot of the attribute (`directory-<n>`), one partition per shard, in shard
order and, within a shard, in `sub` order: a stable order, so a continuation (next shard and the
index's LastEvaluatedKey) resumes exactly where a page stopped. When `parallel`, once a shard has
been read to its end, the next shards a page needs are read at once (as many as the shard just
read suggests), so a small tenant costs about two round trips rather than sixteen. Tombstones and
reserved rows never carry an index key; rows are filtered on them anyway. By an attribute with a
verification flag (e-mail), only users who verified it are listed unless `include_unverified`
(filtered here, so every page but the last is still full). The key format is
cognito_mirror/record.py, as the row is. See docs/DIRECTORY.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from cognito_mirror._aws import answered_items, client_errors, dependency_error
from cognito_mirror._errors import DirectoryQueryError
from cognito_mirror.record import (
    DIRECTORY_SHARDS,
    index_name,
    is_reserved,
    is_verified,
    query_keys,
    row_from_item,
    slot_attribute,
)

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "Continuation",
    "Decode",
    "DirectoryPage",
    "DirectoryQuery",
    "QueryPage",
    "check_last_key",
    "client_query_page",
    "iter_rows",
    "plan_query",
    "query_request",
    "read_page",
]

Item = Mapping[str, Any]
Key = dict[str, Any]
# One Query page of an index partition (index None: of the table itself): (index, key attribute,
# partition, Limit, ExclusiveStartKey or None) -> (its items in DynamoDB's wire format, its
# LastEvaluatedKey or None).
QueryPage = Callable[[str | None, str, str, int, Key | None], tuple[Sequence[Item], Key | None]]
# What a listing takes of one item: its row, or None to pass over it.
Decode = Callable[[Item], dict[str, Any] | None]


@dataclass(frozen=True)
class Continuation:
    """Where the next page starts: a shard of the query and the index's LastEvaluatedKey in it
    (None: the shard's beginning)."""

    shard: int
    last_key: Key | None = None


@dataclass(frozen=True)
class DirectoryPage:
    # The live users' rows (cognito_mirror.record.row_from_item), in (shard, sub) order.
    rows: list[dict[str, Any]]
    # None: the listing is complete.
    next: Continuation | None


@dataclass(frozen=True)
class DirectoryQuery:
    """One query's reads, index (None: the table's own key), key attribute, partitions (one per
    shard) and page size; the attribute a user must have verified to be listed (None: every user
    is); `decode`, what a page takes of an item (None: the live users' rows, as `_user_row`)."""

    query_page: QueryPage
    index: str | None
    key_name: str
    partitions: list[str]
    limit: int
    verified: str | None
    parallel: bool
    decode: Decode | None = None


def plan_query(
    query_page: QueryPage,
    indexed_attributes: Sequence[str],
    attribute: str,
    value: str,
    *,
    limit: int,
    max_limit: int,
    limit_name: str = "limit",
    include_unverified: bool = False,
    after: Continuation | None = None,
    check_layout: Callable[[str, int], None] | None = None,
    parallel: bool = False,
) -> DirectoryQuery:
    """The query for `value` of `attribute` (to be resumed from `after`), or DirectoryQueryError
    naming what is wrong, nothing read. `check_layout(attribute, slot)` raises when the table indexes
    the attribute elsewhere."""
    if attribute not in indexed_attributes:
        raise DirectoryQueryError(f"{attribute[:64]!r} is not an indexed attribute")
    slot = list(indexed_attributes).index(attribute)
    if not 1 <= limit <= max_limit:
        raise DirectoryQueryError(f"{limit_name} must be in 1..{max_limit}")
    partitions = query_keys(attribute, value)
    if not partitions:
        raise DirectoryQueryError("the value is empty or too long to be indexed")
    if after is not None and not 0 <= after.shard < len(partitions):
        raise DirectoryQueryError("the continuation does not belong to this query")
    if check_layout is not None:
        check_layout(attribute, slot)
    if after is not None and after.last_key is not None:
        check_last_key(after.last_key, slot_attribute(slot), partitions[after.shard])
    verified = None if include_unverified else attribute
    return DirectoryQuery(
        query_page, index_name(slot), slot_attribute(slot), partitions, limit, verified, parallel
    )


def read_page(query: DirectoryQuery, after: Continuation | None = None) -> DirectoryPage:
    """Up to `query.limit` live users from `after` on (the beginning by default; a continuation
    of this query, as `plan_query` checked it or `read_page` returned it)."""
    shard, last_key = (after.shard, after.last_key) if after is not None else (0, None)
    rows: list[dict[str, Any]] = []
    width = 1  # shards read at once: 1 until a shard read whole tells how full shards are
    whole: list[int] = []  # sizes of the shards read whole (from their start to their end)
    while True:
        page, shard, last_key = _read_batch(query, rows, shard, last_key, width, whole)
        if page is not None:
            return page
        if query.parallel:
            width = _width(query.limit - len(rows), whole, len(query.partitions) - shard)


def iter_rows(query: DirectoryQuery) -> Iterator[dict[str, Any]]:
    """Every live user's row, read lazily page by page."""
    after: Continuation | None = None
    while True:
        page = read_page(query, after)
        yield from page.rows
        if page.next is None:
            return
        after = page.next


def query_request(
    table: str, index: str | None, key_name: str, partition: str, limit: int, start: Key | None
) -> dict[str, Any]:
    """The Query of one page of an index partition, or of the table's own partition when `index`
    is None (any client's keyword arguments)."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": key_name},
        "ExpressionAttributeValues": {":v": {"S": partition}},
        "Limit": limit,
    }
    if index is not None:
        request["IndexName"] = index
    if start is not None:
        request["ExclusiveStartKey"] = start
    return request


def client_query_page(ddb: Callable[[], Any], table: str) -> QueryPage:
    """Query pages read with a client of the library: `ddb` builds (or returns) it; a failure to
    build it is the mirror failing too (503), or misconfigured (500) when no retry can fix it (a bad
    region, missing credentials)."""

    def query_page(
        index: str | None, key_name: str, partition: str, limit: int, start: Key | None
    ) -> tuple[Sequence[Item], Key | None]:
        try:
            response = ddb().query(**query_request(table, index, key_name, partition, limit, start))
        except client_errors() as exc:
            raise dependency_error(exc, "mirror query") from exc
        return answered_items("Query", response), response.get("LastEvaluatedKey") or None

    return query_page


def check_last_key(last_key: Key, key_name: str, partition: str) -> None:
    """A LastEvaluatedKey of this query's partition (else the query would jump elsewhere)."""
    if set(last_key) != {"sub", key_name} or last_key[key_name] != {"S": partition}:
        raise DirectoryQueryError("the continuation does not belong to this query")
    if not isinstance(last_key["sub"], dict) or not isinstance(last_key["sub"].get("S"), str):
        raise DirectoryQueryError("the continuation does not belong to this query")


def _read_batch(
    query: DirectoryQuery,
    rows: list[dict[str, Any]],
    shard: int,
    last_key: Key | None,
    width: int,
    whole: list[int],
) -> tuple[DirectoryPage | None, int, Key | None]:
    """Read `width` shards from `shard` into `rows`: the page once it is complete, else where to go on."""
    batch = range(shard, min(shard + width, len(query.partitions)))
    starts = [last_key] + [None] * (len(batch) - 1)
    want = query.limit - len(rows)
    answers = _read_shards(query, [query.partitions[s] for s in batch], starts, want)
    for current, start, (items, next_key) in zip(batch, starts, answers, strict=True):
        page = _take(query, rows, current, items)
        if page is not None:
            return page, current, None
        if next_key is not None:  # this shard goes on: the page is full, or read it further
            shard, last_key = current, next_key
            break
        if start is None:
            whole.append(len(items))
        shard, last_key = current + 1, None
        if shard == len(query.partitions):
            return DirectoryPage(rows, None), shard, None
        if len(rows) >= query.limit:
            return DirectoryPage(rows, Continuation(shard, None)), shard, None
    if len(rows) >= query.limit:
        return DirectoryPage(rows, Continuation(shard, last_key)), shard, last_key
    return None, shard, last_key


def _take(
    query: DirectoryQuery, rows: list[dict[str, Any]], shard: int, items: Sequence[Item]
) -> DirectoryPage | None:
    """Add what the query takes of one answer; the page when it fills inside the answer."""
    decode = query.decode or partial(_user_row, query.verified)
    for position, item in enumerate(items):
        row = decode(item)
        if row is not None:
            rows.append(row)
        if len(rows) == query.limit and position < len(items) - 1:
            # The page fills inside this answer: resume right after the last item taken.
            resume = {query.key_name: {"S": query.partitions[shard]}, "sub": item["sub"]}
            return DirectoryPage(rows, Continuation(shard, resume))
    return None


def _user_row(verified: str | None, item: Item) -> dict[str, Any] | None:
    """A live user's row, if they have `verified` verified (any user when None)."""
    row = row_from_item(item)
    if row["deleted"] or is_reserved(row["sub"]):
        return None
    return row if verified is None or is_verified(verified, row["attributes"] or {}) else None


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
    from concurrent.futures import ThreadPoolExecutor  # only a parallel listing needs threads

    return ThreadPoolExecutor(max_workers=DIRECTORY_SHARDS, thread_name_prefix="directory")


def _read_shards(
    query: DirectoryQuery, partitions: list[str], starts: list[Key | None], limit: int
) -> list[tuple[Sequence[Item], Key | None]]:
    """One Query page of each partition (in parallel when there are several), in order."""

    def read(partition: str, start: Key | None) -> tuple[Sequence[Item], Key | None]:
        return query.query_page(query.index, query.key_name, partition, limit, start)

    if len(partitions) == 1:
        return [read(partitions[0], starts[0])]
    return list(_pool().map(read, partitions, starts))
