"""The mirror's row as the engine reads it back: a PynamoDB model of the contract
(cognito_mirror/record.py) that parses the rows the sync, the backfill's comparison and its scan read
to decide, never calling DynamoDB (`models.table.MirrorTable` does: see DESIGN.md, "The record"). The
rows are written in the contract's own wire form (`item_from_row`), the form every reader decodes."""

from __future__ import annotations

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


def record_from_item(item: dict[str, Any]) -> MirrorRecord:
    """A row as DynamoDB returns it (wire format), parsed."""
    return MirrorRecord.from_raw_data(item)
