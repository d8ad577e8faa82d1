"""The mirror's row on the write side: a PynamoDB model of the contract (cognito_mirror/record.py)
that serializes the rows the mirror writes and parses the rows its engine reads back, never calling
DynamoDB (`models.table.MirrorTable` does: see DESIGN.md, "The record"), and its conversions to and
from a `UserSnapshot`."""

from __future__ import annotations

import enum
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.models import Model

from cognito_mirror.record import SLOT_NAMES
from models.user import UserSnapshot


class WriteOutcome(enum.Enum):
    WRITTEN = "written"
    # The stored row is as new or newer, or is a tombstone: nothing changed.
    SKIPPED = "skipped"


class MirrorRecord(Model):
    """One row per user, keyed by the immutable `sub` (the attribute names are the contract's
    `FIELDS`, `GROUP_FIELDS`, its TTL and its directory keys; a test holds them equal).

    No `Meta` on purpose: PynamoDB needs one only to reach a table, so any call to DynamoDB through
    this class fails at once (AttributeError) instead of reaching a table by a made-up name.
    """

    sub = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute(null=True)
    attributes: MapAttribute[str, str] = MapAttribute(null=True)
    status = UnicodeAttribute(null=True)
    enabled = BooleanAttribute(null=True)
    observed_at = NumberAttribute()
    source = UnicodeAttribute()
    deleted = BooleanAttribute(default=False)
    expires_at = TTLAttribute(null=True)
    # The membership, versioned apart from the profile (cognito_mirror/record.py): written only by
    # `MirrorTable.put_groups` / `remove_group`, never by a snapshot, so a parsed snapshot row leaves
    # both None (unknown) and an absent set with a version is no group.
    groups = UnicodeSetAttribute(null=True)
    groups_observed_at = NumberAttribute(null=True)
    # The user directory's sparse index keys (cognito_mirror/record.py): present only where the user
    # has the slot's attribute; a tombstone has none.
    dir0 = UnicodeAttribute(null=True)
    dir1 = UnicodeAttribute(null=True)
    dir2 = UnicodeAttribute(null=True)

    @property
    def is_tombstone(self) -> bool:
        return bool(self.deleted)

    def stored_index_keys(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in SLOT_NAMES}

    def to_snapshot(self) -> UserSnapshot:
        return UserSnapshot(
            sub=self.sub,
            username=self.username or "",
            attributes=self.attributes.as_dict() if self.attributes else {},
            status=self.status or "UNKNOWN",
            enabled=bool(self.enabled),
            observed_at=int(self.observed_at),
            source=self.source,
        )


def record_from_snapshot(snapshot: UserSnapshot, index_keys: dict[str, str | None]) -> MirrorRecord:
    """The row of `snapshot`, carrying `index_keys` (its directory keys under the current setting)."""
    record = MirrorRecord(
        snapshot.sub,
        username=snapshot.username,
        attributes=MapAttribute(**snapshot.attributes),
        status=snapshot.status,
        enabled=snapshot.enabled,
        observed_at=snapshot.observed_at,
        source=snapshot.source,
        deleted=False,
    )
    for name, key in index_keys.items():
        setattr(record, name, key)
    return record


def record_from_item(item: dict[str, Any]) -> MirrorRecord:
    """A row as DynamoDB returns it (wire format), parsed."""
    return MirrorRecord.from_raw_data(item)


def snapshot_from_row(row: dict[str, Any]) -> UserSnapshot:
    """The user of a live row of the contract (cognito_mirror.record.row_from_item): no
    `MirrorRecord` per item, a listing reads thousands."""
    return UserSnapshot(
        sub=row["sub"],
        username=row["username"] or "",
        attributes=row["attributes"] or {},
        status=row["status"] or "UNKNOWN",
        enabled=bool(row["enabled"]),
        observed_at=int(row["observed_at"]),
        source=row["source"] or "",
    )
