"""The mirror's record: one row per user, keyed by the immutable `sub`. The one contract that the
library's reads, the mirror's writes, its events and its directory all use.

A row is live (`deleted` false) or the tombstone of a deleted user (`deleted` true). A live row's
group membership (`GROUP_FIELDS`) is versioned apart from its profile: `groups` (a string set: DynamoDB
holds no empty set, so an absent set is no group) is known only when `groups_observed_at` is present
(when a writer observed the membership in Cognito); without it the groups are unknown, never "none".
A profile write leaves both as they are, a tombstone drops them. Rows whose
`sub` starts with `RESERVED_PREFIX` are the mirror's own state, never a user: every reader skips
them. The directory's keys (`dir<i>`, index `directory-<i>`) are cognito_mirror/index_keys.py.
JSON Schema: schemas/mirror-record.v1.json; docs/RECORD.md.

`row_from_item` reads an item in DynamoDB's wire format (`{"sub": {"S": ...}}`, as GetItem, Query,
BatchGetItem and the stream's images hold it) into a plain row, field by field: a listing decodes
thousands of items, and a general deserializer (or a PynamoDB object) per item costs several times
more than the Query itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cognito_mirror.index_keys import MAX_INDEXED_ATTRIBUTES, SLOT_NAMES, index_name

__all__ = [
    "FIELDS",
    "GROUPS",
    "GROUPS_OBSERVED_AT",
    "GROUP_FIELDS",
    "INDEXES",
    "KEY",
    "RESERVED_PREFIX",
    "TTL_FIELD",
    "USERNAME_INDEX",
    "is_reserved",
    "is_tombstone",
    "row_from_item",
    "valid_sub",
]

KEY = "sub"
# What a row holds besides its directory keys and its TTL, in a fixed order (the PartiQL forms use it).
FIELDS = ("sub", "username", "attributes", "status", "enabled", "observed_at", "source", "deleted")
# The membership: the user's Cognito group names (a string set; absent: no group, when known) and
# when a writer observed them (integer µs since the epoch; absent: the groups are unknown). Written
# by their own guarded write, never by a profile write.
GROUPS = "groups"
GROUPS_OBSERVED_AT = "groups_observed_at"
GROUP_FIELDS = (GROUPS, GROUPS_OBSERVED_AT)
# A tombstone's expiry (DynamoDB TTL, seconds since the epoch); live rows have none.
TTL_FIELD = "expires_at"
# The keys-only index the mirror's sync finds a user's subs by username with.
USERNAME_INDEX = "username-index"
# Every global secondary index of the table: name -> (partition key, sort key or None).
INDEXES: dict[str, tuple[str, str | None]] = {
    USERNAME_INDEX: ("username", None),
    **{index_name(slot): (SLOT_NAMES[slot], KEY) for slot in range(MAX_INDEXED_ATTRIBUTES)},
}
# No sub starts with it (see valid_sub): such rows are the mirror's own state.
RESERVED_PREFIX = "#"

_SUB = re.compile(r"[A-Za-z0-9_-]{1,128}")


def valid_sub(value: object) -> bool:
    """Subs are UUIDs; anything outside this alphabet cannot be one (and is never looked up)."""
    return isinstance(value, str) and _SUB.fullmatch(value) is not None


def is_reserved(sub: str) -> bool:
    """A key of the mirror's own state, never a user."""
    return sub.startswith(RESERVED_PREFIX)


def is_tombstone(item: Mapping[str, Any]) -> bool:
    """An item (wire format) that records a deleted user."""
    deleted = item.get("deleted")
    return isinstance(deleted, Mapping) and deleted.get("BOOL") is True


def row_from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """The row of an item in DynamoDB's wire format: the `FIELDS`, each None when missing or of
    another type; `attributes` keeps string values only, `observed_at` is a Decimal (as boto3's
    deserializer gives it) or None when not a number, `deleted` is a bool. Then the `GROUP_FIELDS`:
    `groups_observed_at` as `observed_at`, and `groups` the sorted group names when it is known
    (an empty tuple: no group), None when unknown. KeyError without a sub."""
    raw = _field(item, "attributes", "M")
    groups_observed_at = _decimal(_field(item, GROUPS_OBSERVED_AT, "N"))
    return {
        "sub": item["sub"]["S"],
        "username": _field(item, "username", "S"),
        "attributes": (
            {name: value["S"] for name, value in raw.items() if isinstance(value, dict) and "S" in value}
            if isinstance(raw, dict)
            else None
        ),
        "status": _field(item, "status", "S"),
        "enabled": _field(item, "enabled", "BOOL"),
        "observed_at": _decimal(_field(item, "observed_at", "N")),
        "source": _field(item, "source", "S"),
        "deleted": _field(item, "deleted", "BOOL") is True,
        GROUPS: None if groups_observed_at is None else _names(_field(item, GROUPS, "SS")),
        GROUPS_OBSERVED_AT: groups_observed_at,
    }


def _field(item: Mapping[str, Any], name: str, kind: str) -> Any:
    # `dict`, not `Mapping`: every decoded answer is made of dicts, and an ABC check per field
    # would cost a listing more than the rest of its decoding.
    value = item.get(name)
    return value.get(kind) if isinstance(value, dict) else None


def _names(values: Any) -> tuple[str, ...]:
    return tuple(sorted(v for v in values if isinstance(v, str))) if isinstance(values, list) else ()


def _decimal(text: Any) -> Decimal | None:
    try:
        return Decimal(text) if isinstance(text, str) else None
    except ArithmeticError:  # decimal.InvalidOperation: not a number
        return None
