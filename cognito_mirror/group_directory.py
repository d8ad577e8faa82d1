"""A group's members, listed from the mirror: the group-members table's items, page by page, each
page's users read from the mirror's table and kept only while their row still holds the group.

The group-members table (cognito_mirror/group_members.py) is a projection kept by the table
stream's `groupMembers` function, so it can lag the rows by the stream's delay or hold a membership
the row no longer has: the row stays the truth. A page reads membership items with the directory's
query machinery (`directory.read_page`: partitions `<group>#<shard>` in shard order, `sub` order
within one, the same `Continuation`), keeps those still marked `member`, reads their rows with one
BatchGetItem (up to 100 keys a call) and keeps the live users whose `groups` hold the group. A page
whose items were stale reads on from where it stopped, so every page but the last is full. See
docs/DIRECTORY.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cognito_mirror._aws import answered_items, client_errors, dependency_error
from cognito_mirror._errors import ConfigurationError, DirectoryQueryError, MirrorUnavailableError
from cognito_mirror.directory import (
    Continuation,
    DirectoryPage,
    DirectoryQuery,
    QueryPage,
    check_last_key,
    client_query_page,
    read_page,
)
from cognito_mirror.group_members import GROUP_KEY, MEMBER, SUB, query_keys, valid_group
from cognito_mirror.record import GROUPS, KEY, is_reserved, row_from_item

__all__ = [
    "BATCH_GET_MAX",
    "BatchGet",
    "ReadRows",
    "client_batch_get",
    "group_rows",
    "iter_group_rows",
    "plan_group_query",
    "read_group_page",
    "read_rows",
]

Item = Mapping[str, Any]
# One BatchGetItem call: its request's keyword arguments -> its answer.
BatchGet = Callable[[dict[str, Any]], Mapping[str, Any]]
# The mirror's items (wire format) of these subs, by sub; a sub without a row is left out.
ReadRows = Callable[[Sequence[str]], Mapping[str, Item]]
# DynamoDB's limit of keys per BatchGetItem call.
BATCH_GET_MAX = 100
# Unprocessed keys are asked again this many times (with a short backoff) before the read fails.
_UNPROCESSED_ROUNDS = 5


def plan_group_query(
    query_page: QueryPage,
    group: str,
    *,
    limit: int,
    max_limit: int,
    limit_name: str = "limit",
    after: Continuation | None = None,
    parallel: bool = False,
) -> DirectoryQuery:
    """The query of `group`'s membership items (`query_page` reads the group-members table), to be
    resumed from `after`; DirectoryQueryError naming what is wrong, nothing read."""
    if not valid_group(group):
        raise DirectoryQueryError("the group name is not one Cognito allows (1-128 characters, no spaces)")
    if not 1 <= limit <= max_limit:
        raise DirectoryQueryError(f"{limit_name} must be in 1..{max_limit}")
    partitions = query_keys(group)
    if after is not None and not 0 <= after.shard < len(partitions):
        raise DirectoryQueryError("the continuation does not belong to this query")
    if after is not None and after.last_key is not None:
        check_last_key(after.last_key, GROUP_KEY, partitions[after.shard])
    return DirectoryQuery(query_page, None, GROUP_KEY, partitions, limit, None, parallel, decode=_member)


def read_group_page(
    query: DirectoryQuery, rows_of: ReadRows, group: str, after: Continuation | None = None
) -> DirectoryPage:
    """Up to `query.limit` live members' rows from `after` on, in (shard, sub) order: a user is
    listed only while their row holds `group` (a stale membership item is passed over, and the
    page reads on to stay full)."""
    rows: list[dict[str, Any]] = []
    while True:
        members = read_page(replace(query, limit=query.limit - len(rows)), after)
        found = rows_of([member[KEY] for member in members.rows])
        for member in members.rows:
            item = found.get(member[KEY])
            row = row_from_item(item) if item is not None else None
            if row is not None and not row["deleted"] and group in (row[GROUPS] or ()):
                rows.append(row)
        after = members.next
        if after is None or len(rows) >= query.limit:
            return DirectoryPage(rows, after)


def iter_group_rows(query: DirectoryQuery, rows_of: ReadRows, group: str) -> Iterator[dict[str, Any]]:
    """Every live member's row, read lazily page by page."""
    after: Continuation | None = None
    while True:
        page = read_group_page(query, rows_of, group, after)
        yield from page.rows
        if page.next is None:
            return
        after = page.next


def read_rows(batch_get: BatchGet, table: str, subs: Sequence[str]) -> dict[str, Item]:
    """The items of `subs` in `table` (eventually consistent), by sub, BATCH_GET_MAX keys a call;
    keys DynamoDB leaves unprocessed are asked again, then MirrorUnavailableError."""
    found: dict[str, Item] = {}
    unique = [sub for sub in dict.fromkeys(subs) if not is_reserved(sub)]
    for start in range(0, len(unique), BATCH_GET_MAX):
        keys = [{KEY: {"S": sub}} for sub in unique[start : start + BATCH_GET_MAX]]
        pending: Mapping[str, Any] = {table: {"Keys": keys}}
        for round_ in range(_UNPROCESSED_ROUNDS + 1):
            if round_:
                time.sleep(0.05 * 2 ** (round_ - 1))
            answer = batch_get({"RequestItems": pending})
            for item in answered_items("BatchGetItem", answer):
                found[item[KEY]["S"]] = item
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
        if pending:
            raise MirrorUnavailableError("mirror BatchGetItem failed: keys left unprocessed")
    return found


def client_batch_get(ddb: Callable[[], Any], table: str) -> ReadRows:
    """`read_rows` with a client of the library (`ddb` builds or returns it); a failed call is the
    mirror failing (503), or misconfigured (500) when no retry can fix it."""

    def batch_get(request: dict[str, Any]) -> Mapping[str, Any]:
        try:
            answer: Mapping[str, Any] = ddb().batch_get_item(**request)
        except client_errors() as exc:
            raise dependency_error(exc, "mirror batch read") from exc
        return answer

    return lambda subs: read_rows(batch_get, table, subs)


def group_rows(
    ddb: Callable[[], Any], table: str, members_table: str | None, group: str, page_size: int
) -> Iterator[dict[str, Any]]:
    """A reader's listing of `group`: the group-members table queried and the mirror's `table` read
    with the client `ddb` returns, `page_size` (1..1000) users a page. The query is checked now
    (DirectoryQueryError); ConfigurationError without the group-members table's name."""
    if members_table is None:
        raise ConfigurationError("MIRROR_GROUP_MEMBERS_TABLE is not set: name the group-members table")
    query = plan_group_query(
        client_query_page(ddb, members_table), group, limit=page_size, max_limit=1000, limit_name="page_size"
    )
    return iter_group_rows(query, client_batch_get(ddb, table), group)


def _member(item: Item) -> dict[str, Any] | None:
    """A membership item still marked `member`: its sub; else None."""
    member, sub = item.get(MEMBER), item.get(SUB)
    if isinstance(member, dict) and member.get("BOOL") is True and isinstance(sub, dict):
        value = sub.get("S")
        if isinstance(value, str):
            return {KEY: value}
    return None
