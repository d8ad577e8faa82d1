"""The user directory on the mirror's side: the library's query (cognito_mirror/directory.py) on the
process's table, its pages of users as snapshots. Pages and continuations are the library's; the
HTTP layer signs and encodes a continuation into an opaque cursor bound to its query. The indexes
are eventually consistent (a write shows up within about a second). See docs/DIRECTORY.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

import cognito_mirror
from cognito_mirror.directory import Continuation, plan_query, read_page
from cognito_mirror.group_directory import ReadRows, plan_group_query, read_group_page, read_rows
from models.directory_layout import check_layout
from models.errors import DirectoryQueryError, TableUnavailableError, error_code
from models.group_members import GroupMembersTable, group_members_table
from models.table import MirrorTable, mirror_table
from models.user import UserSnapshot

__all__ = ["MAX_PAGE_SIZE", "Continuation", "DirectoryPage", "query_group_members", "query_users"]

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class DirectoryPage:
    users: list[UserSnapshot]
    # None: the listing is complete.
    next: Continuation | None


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
    `table` (the process's by default) under its indexed attributes; shards read in parallel. By
    e-mail, only users whose address is verified unless `include_unverified`. DirectoryQueryError
    for a query the directory cannot answer."""
    table = table or mirror_table()
    try:
        query = plan_query(
            partial(_index_page, table),
            table.config.indexed_attributes,
            attribute,
            value,
            limit=limit,
            max_limit=MAX_PAGE_SIZE,
            include_unverified=include_unverified,
            after=after,
            check_layout=partial(check_layout, table),
            parallel=True,
        )
        page = read_page(query, after)
    except cognito_mirror.DirectoryQueryError as exc:
        raise DirectoryQueryError(exc.detail) from exc
    return DirectoryPage([UserSnapshot.from_row(row) for row in page.rows], page.next)


def query_group_members(
    group: str,
    *,
    limit: int,
    after: Continuation | None = None,
    table: MirrorTable | None = None,
    members: GroupMembersTable | None = None,
) -> DirectoryPage:
    """Up to `limit` live users whose mirrored row holds `group`, from `after` on, in (shard, sub)
    order: the group-members table's items (shards read in parallel), each page's rows read with
    one BatchGetItem from `table` (the process's tables by default). DirectoryQueryError for a query
    the directory cannot answer (a name Cognito would refuse, a foreign continuation)."""
    table = table or mirror_table()
    members = members or group_members_table()
    try:
        query = plan_group_query(
            members.query_page, group, limit=limit, max_limit=MAX_PAGE_SIZE, after=after, parallel=True
        )
        page = read_group_page(query, _rows_of(table), group, after)
    except cognito_mirror.DirectoryQueryError as exc:
        raise DirectoryQueryError(exc.detail) from exc
    except cognito_mirror.MirrorUnavailableError as exc:  # keys left unprocessed, an odd answer
        raise TableUnavailableError(exc.detail) from exc
    return DirectoryPage([UserSnapshot.from_row(row) for row in page.rows], page.next)


def _index_page(
    table: MirrorTable, index: str | None, key: str, partition: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One Query page of a directory index's partition (an attribute query always names its index)."""
    if index is None:
        raise ValueError("an attribute query reads one of the directory's indexes")
    return table.query_index(index, key, partition, limit=limit, start_key=start)


def _rows_of(table: MirrorTable) -> ReadRows:
    """The mirror's items of some subs, read with the table's own client."""

    def batch_get(request: dict[str, Any]) -> Mapping[str, Any]:
        try:
            answer: Mapping[str, Any] = table.client.batch_get_item(**request)
        except (BotoCoreError, ClientError) as exc:
            raise TableUnavailableError(f"mirror batch read failed: {error_code(exc)}") from exc
        return answer

    def rows_of(subs: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        return read_rows(batch_get, table.name, subs)

    return rows_of
