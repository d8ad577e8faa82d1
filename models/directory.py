"""The user directory on the mirror's side: the library's query (cognito_mirror/directory.py) on the
process's table, its pages of users as snapshots. Pages and continuations are the library's; the
HTTP layer signs and encodes a continuation into an opaque cursor bound to its query. The indexes
are eventually consistent (a write shows up within about a second). See docs/DIRECTORY.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import cognito_mirror
from cognito_mirror.directory import Continuation, plan_query, read_page
from models.directory_layout import check_layout
from models.errors import DirectoryQueryError
from models.record import snapshot_from_row
from models.table import MirrorTable, mirror_table
from models.user import UserSnapshot

__all__ = ["MAX_PAGE_SIZE", "Continuation", "DirectoryPage", "query_users"]

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
            lambda index, key, partition, limit, start: table.query_index(
                index, key, partition, limit=limit, start_key=start
            ),
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
    return DirectoryPage([snapshot_from_row(row) for row in page.rows], page.next)
