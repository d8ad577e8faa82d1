"""The mirror's record: one row per user, keyed by the immutable `sub`; the one contract that the
library's reads, the mirror's writes, its events and its directory all use. Pure: no AWS, no settings.
JSON Schema: schemas/mirror-record.v1.json; docs/RECORD.md, docs/DIRECTORY.md.

- The row: live (`deleted` false) or the tombstone of a deleted user, its membership (`GROUP_FIELDS`)
  versioned apart from its profile. Rows whose `sub` starts with `RESERVED_PREFIX` are the mirror's
  own state: every reader skips them.
- The directory's index keys: indexed attribute i (`MIRROR_INDEXED_ATTRIBUTES` order) is the item
  attribute `dir<i>`, partition key of the sparse index `directory-<i>` (sort key `sub`): absent when
  the user lacks the attribute, and from a tombstone. The key is `<attribute>#<value>`, and for an
  attribute many users share (a tenant) `<attribute>#<value>#<shard>`, shard = crc32(sub) mod
  `DIRECTORY_SHARDS`, so one value's writes spread over that many partitions.
- The codec: `row_from_item` reads an item in DynamoDB's wire format (GetItem, Query, BatchGetItem, the
  stream's images) field by field, as a listing decodes thousands (a general deserializer or a
  PynamoDB object per item costs several times the Query); `item_from_row` writes every row the
  mirror stores; `Profile` is a live row as readers get it.
"""

from __future__ import annotations

import re
import string
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEFAULT_INDEXED_ATTRIBUTES",
    "DIRECTORY_SHARDS",
    "FIELDS",
    "GROUPS",
    "GROUPS_OBSERVED_AT",
    "GROUP_FIELDS",
    "INDEXES",
    "KEY",
    "MAX_INDEXED_ATTRIBUTES",
    "RESERVED_PREFIX",
    "SLOT_NAMES",
    "TTL_FIELD",
    "USERNAME_INDEX",
    "Profile",
    "index_keys",
    "index_name",
    "is_reserved",
    "is_tombstone",
    "item_from_row",
    "query_keys",
    "row_from_item",
    "slot_attribute",
    "valid_sub",
]

# --- the row --------------------------------------------------------------------------------------

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


# --- the directory's index keys -------------------------------------------------------------------

# Index slots declared in serverless.yml (`directory-0`..`directory-2`): at most this many attributes.
MAX_INDEXED_ATTRIBUTES = 3
# MIRROR_INDEXED_ATTRIBUTES when unset (the mirror drops from it what its allowlist does not mirror).
DEFAULT_INDEXED_ATTRIBUTES = ("email", "custom:tenant")
SLOT_PREFIX = "dir"
INDEX_PREFIX = "directory-"
DIRECTORY_SHARDS = 16
# Attributes that name about one user each: one index partition per value is enough.
UNSHARDED_ATTRIBUTES = frozenset({"email", "phone_number", "preferred_username"})
# DynamoDB refuses a GSI partition key over 2048 bytes: such a value is not indexed.
MAX_KEY_BYTES = 2048


def slot_attribute(slot: int) -> str:
    """The item attribute holding slot `slot`'s key (`dir0`, `dir1`, ...)."""
    return f"{SLOT_PREFIX}{slot}"


SLOT_NAMES = tuple(slot_attribute(slot) for slot in range(MAX_INDEXED_ATTRIBUTES))


def index_name(slot: int) -> str:
    """The GSI of slot `slot` (`directory-0`, ...)."""
    return f"{INDEX_PREFIX}{slot}"


# E-mail keys lowercase ASCII letters only: Unicode case folding and NFKC map look-alikes (the Kelvin
# sign U+212A) onto ASCII letters, so "\u212aate@..." would share kate@...'s key.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# Lookups by these attributes return, by default, only users whose value is verified (flag "true").
VERIFICATION_FLAGS = {"email": "email_verified"}


def normalise_value(attribute: str, value: str) -> str:
    """The form stored and queried: the value exactly as Cognito holds it (no trimming: "acme " is
    another value than "acme"), except that an e-mail's ASCII letters are lowercased."""
    return value.translate(_ASCII_LOWER) if attribute == "email" else value


def is_indexable(normalised: str) -> bool:
    """Blank values (empty, or whitespace only) are not indexed: nobody is found by them."""
    return bool(normalised.strip())


def is_verified(attribute: str, attributes: Mapping[str, str]) -> bool:
    """Whether a user found by `attribute` has it verified (always, for an attribute without a flag)."""
    flag = VERIFICATION_FLAGS.get(attribute)
    return flag is None or attributes.get(flag) == "true"


def shard_count(attribute: str) -> int:
    return 1 if attribute in UNSHARDED_ATTRIBUTES else DIRECTORY_SHARDS


def shard_of(sub: str) -> int:
    """A user's shard: stable across processes and runs (not Python's salted hash)."""
    return zlib.crc32(sub.encode("utf-8", "surrogatepass")) % DIRECTORY_SHARDS


def partition_key(attribute: str, normalised: str, shard: int | None) -> str:
    """The index partition key of a normalised value (`shard` None for an unsharded attribute)."""
    key = f"{attribute}#{normalised}"
    return key if shard is None else f"{key}#{shard:02d}"


def _fits(key: str) -> bool:
    return len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES


def query_keys(attribute: str, value: str) -> list[str]:
    """Every partition key a query for `value` reads, in shard order ([] when it cannot be indexed)."""
    normalised = normalise_value(attribute, value)
    if not is_indexable(normalised):
        return []
    shards: list[int | None] = [None] if shard_count(attribute) == 1 else [*range(DIRECTORY_SHARDS)]
    keys = [partition_key(attribute, normalised, shard) for shard in shards]
    return keys if all(_fits(key) for key in keys) else []


def index_keys(sub: str, attributes: Mapping[str, str], indexed: tuple[str, ...]) -> dict[str, str | None]:
    """Every slot's key for a user: the key, or None where the user has no indexable value (or the
    slot is unused, so that a row written under a longer setting leaves that index)."""
    keys: dict[str, str | None] = dict.fromkeys(SLOT_NAMES)
    for slot, attribute in enumerate(indexed):
        value = attributes.get(attribute)
        normalised = normalise_value(attribute, value) if isinstance(value, str) else ""
        key = None
        if is_indexable(normalised):
            shard = None if shard_count(attribute) == 1 else shard_of(sub)
            key = partition_key(attribute, normalised, shard)
        keys[slot_attribute(slot)] = key if key is not None and _fits(key) else None
    return keys


# Every global secondary index of the table: name -> (partition key, sort key or None).
INDEXES: dict[str, tuple[str, str | None]] = {
    USERNAME_INDEX: ("username", None),
    **{index_name(slot): (SLOT_NAMES[slot], KEY) for slot in range(MAX_INDEXED_ATTRIBUTES)},
}


# --- the codec: a wire-format item, its row, its Profile ------------------------------------------


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
        GROUPS: None if groups_observed_at is None else _group_names(_field(item, GROUPS, "SS")),
        GROUPS_OBSERVED_AT: groups_observed_at,
    }


def item_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """`row_from_item`'s inverse: the item of a row's fields that are not None, directory keys and TTL
    included (no set for no group: DynamoDB holds none). TypeError for a field of another type."""
    return {name: _wire(value) for name, value in row.items() if value not in (None, (), [])}


def _wire(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {name: {"S": text} for name, text in value.items()}}
    if isinstance(value, tuple | list):
        return {"SS": sorted(value)}
    raise TypeError(f"not a value of a mirror row: {type(value).__name__}")


def _field(item: Mapping[str, Any], name: str, kind: str) -> Any:
    # `dict`, not `Mapping`: every decoded answer is made of dicts, and an ABC check per field
    # would cost a listing more than the rest of its decoding.
    value = item.get(name)
    return value.get(kind) if isinstance(value, dict) else None


def _decimal(text: Any) -> Decimal | None:
    try:
        return Decimal(text) if isinstance(text, str) else None
    except ArithmeticError:  # decimal.InvalidOperation: not a number
        return None


@dataclass(frozen=True, slots=True)
class Profile:
    sub: str
    username: str
    attributes: Mapping[str, str]
    status: str
    enabled: bool
    updated_at: str
    # The user's Cognito groups as the mirror last observed them (sorted; () no group), or None:
    # not observed yet (a row written by a trigger or a read-through), never "no group".
    groups: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # A read-only copy: neither the caller nor the cache can change a shared profile.
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Profile:
        """A live mirror row (deserialized: `observed_at` in µs since the epoch)."""
        raw = row.get("attributes")
        attributes = (
            {str(k): v for k, v in raw.items() if isinstance(v, str)} if isinstance(raw, Mapping) else {}
        )
        updated = datetime.fromtimestamp(_micros(row.get("observed_at")) / 1_000_000, tz=UTC)
        groups = row.get("groups")
        return cls(
            sub=str(row["sub"]),
            username=str(row.get("username") or ""),
            attributes=attributes,
            status=str(row.get("status") or "UNKNOWN"),
            enabled=bool(row.get("enabled")),
            updated_at=updated.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            groups=_group_names(groups) if isinstance(groups, (tuple, list)) else None,
        )

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Profile:
        """A live mirror item in DynamoDB's wire format (GetItem, Query): its `row_from_item`'s Profile."""
        return cls.from_row(row_from_item(item))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """The `to_dict()` shape (the repair function's answer; without `groups`: unknown);
        ValueError when it is not that."""
        attributes = data.get("attributes")
        groups = data.get("groups")
        fields = (data.get("sub"), data.get("username"), data.get("status"), data.get("updated_at"))
        if (
            not all(isinstance(value, str) for value in fields)
            or not isinstance(data.get("enabled"), bool)
            or not isinstance(attributes, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items())
            or not (groups is None or (isinstance(groups, list) and all(isinstance(g, str) for g in groups)))
        ):
            raise ValueError("not a profile")
        return cls(
            sub=data["sub"],
            username=data["username"],
            attributes=attributes,
            status=data["status"],
            enabled=data["enabled"],
            updated_at=data["updated_at"],
            groups=None if groups is None else _group_names(groups),
        )

    def to_dict(self) -> dict[str, Any]:
        """A fresh JSON-ready dict (GET /me shape); changing it changes nothing here."""
        return {
            "sub": self.sub,
            "username": self.username,
            "attributes": dict(self.attributes),
            "status": self.status,
            "enabled": self.enabled,
            "updated_at": self.updated_at,
            "groups": None if self.groups is None else list(self.groups),
        }


def _group_names(values: Any) -> tuple[str, ...]:
    names = values if isinstance(values, tuple | list) else ()
    return tuple(sorted({name for name in names if isinstance(name, str)}))


# Timestamps past year 9999 cannot be shown; such a row's time is unknown (the epoch), as a missing one.
_MAX_MICROS = 253_402_300_800_000_000


def _micros(observed: Any) -> int:
    finite = isinstance(observed, int) or (isinstance(observed, Decimal) and observed.is_finite())
    micros = int(observed) if finite else 0
    return micros if 0 <= micros < _MAX_MICROS else 0
