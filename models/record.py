"""The mirror's row: its schema (a PynamoDB model used to serialize and parse rows, never to call
DynamoDB: `models.table.MirrorTable` does that) and its conversions to and from a `UserSnapshot`."""

from __future__ import annotations

import enum
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from cognito_mirror.index_keys import SLOT_NAMES
from models.user import UserSnapshot

USERNAME_INDEX = "username-index"
# Keys starting with "#" can never be a sub (see valid_sub). Old deployments kept engine state in
# such rows of the users table; every reader still leaves them out.
RESERVED_PREFIX = "#"
# What a snapshot writes besides its directory keys, in a fixed order (the PartiQL forms use it).
SNAPSHOT_FIELDS = ("sub", "username", "attributes", "status", "enabled", "observed_at", "source", "deleted")


class WriteOutcome(enum.Enum):
    WRITTEN = "written"
    # The stored row is as new or newer, or is a tombstone: nothing changed.
    SKIPPED = "skipped"


class UsernameIndex(GlobalSecondaryIndex["MirrorRecord"]):
    class Meta:
        index_name = USERNAME_INDEX
        projection = KeysOnlyProjection()

    username = UnicodeAttribute(hash_key=True)


class MirrorRecord(Model):
    """One row per user, keyed by the immutable `sub`."""

    class Meta:
        # A schema only: the table's name, region and connection belong to `MirrorTable`.
        table_name = "mirror"
        region = "unused"
        billing_mode = "PAY_PER_REQUEST"

    sub = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute(null=True)
    attributes: MapAttribute[str, str] = MapAttribute(null=True)
    status = UnicodeAttribute(null=True)
    enabled = BooleanAttribute(null=True)
    observed_at = NumberAttribute()
    source = UnicodeAttribute()
    deleted = BooleanAttribute(default=False)
    expires_at = TTLAttribute(null=True)
    # The user directory's sparse index keys (cognito_mirror/index_keys.py): present only where the user
    # has the slot's attribute; a tombstone has none.
    dir0 = UnicodeAttribute(null=True)
    dir1 = UnicodeAttribute(null=True)
    dir2 = UnicodeAttribute(null=True)
    by_username = UsernameIndex()

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


def live_snapshot_from_item(item: dict[str, Any]) -> UserSnapshot | None:
    """The user of a raw directory item (its projection), or None for a tombstone or reserved row.

    Read straight from the wire format: a listing decodes thousands of these, and a full
    `MirrorRecord` per item costs several times more than the Query itself on a fast store.
    """
    sub = item["sub"]["S"]
    if item.get("deleted", {}).get("BOOL") or sub.startswith(RESERVED_PREFIX):
        return None
    attributes = item.get("attributes", {}).get("M", {})
    return UserSnapshot(
        sub=sub,
        username=item.get("username", {}).get("S", ""),
        attributes={name: value["S"] for name, value in attributes.items() if "S" in value},
        status=item.get("status", {}).get("S", "UNKNOWN"),
        enabled=bool(item.get("enabled", {}).get("BOOL")),
        observed_at=int(item["observed_at"]["N"]),
        source=item.get("source", {}).get("S", ""),
    )
