"""A user's mirrored groups written straight to the process's table: the membership write's guarded
UpdateItem (scripts/membership.py), for tests of the readers' side."""

from __future__ import annotations

from models.table import mirror_table
from models.user import now_us
from scripts.membership import write_groups as write_to_table


def write_groups(sub: str, groups: list[str], *, observed_at: int | None = None) -> bool:
    """Set the row's `groups` (none: the set removed) observed at `observed_at` (now by default);
    False when the guard refused it (no live row, or a newer or equal observation stored)."""
    table = mirror_table()
    at = observed_at if observed_at is not None else now_us()
    return write_to_table(table.client, table.name, sub, groups, observed_at=at)
