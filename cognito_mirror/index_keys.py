"""The user directory's index keys: how an attribute value becomes a sparse GSI partition key.

Indexed attribute number i (in `MIRROR_INDEXED_ATTRIBUTES` order) is written to the item attribute
`dir<i>`, the partition key of the index `directory-<i>` (sort key: `sub`). A user without that
attribute gets no `dir<i>`, so the index holds only users that have it (sparse), and a tombstone,
which replaces the whole item, leaves every index.

The key is `<attribute>#<normalised value>` for an attribute that identifies about one user (e-mail,
phone number, preferred username), and `<attribute>#<normalised value>#<shard>` for the others
(a tenant may hold a million users): shard = crc32(sub) mod DIRECTORY_SHARDS spreads one value's
writes over that many index partitions, each far below a partition's ~1,000 writes/s.
The attribute name in the key keeps a row written under another setting from ever matching.
The one definition of the format: the mirror's write path (models/) and the library's lookups
(`MirrorReader.find_by_email`, `iter_users`) both use it. Pure: no AWS, no settings.
See docs/DIRECTORY.md.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

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
    if shard_count(attribute) == 1:
        keys = [partition_key(attribute, normalised, None)]
    else:
        keys = [partition_key(attribute, normalised, shard) for shard in range(DIRECTORY_SHARDS)]
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


# The layout record: a reserved row (readers skip subs starting with "#") that the stack writes at
# deploy (functions/directory_layout.py) with its ordered indexed attributes. A reader or command
# configured with another order, or with an attribute the table does not index, would read the
# wrong slot and find nobody: it reads this row once and fails loudly instead.
LAYOUT_SUB = "#directory-layout"
LAYOUT_FIELD = "indexed_attributes"


def layout_item(indexed: Sequence[str]) -> dict[str, Any]:
    """The layout record in DynamoDB's wire format."""
    return {"sub": {"S": LAYOUT_SUB}, LAYOUT_FIELD: {"S": ",".join(indexed)}}


def layout_of(item: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    """The ordered indexed attributes of a layout record (None: no record, e.g. a stack deployed
    before the record existed: nothing to check against)."""
    if not item or not isinstance(item.get(LAYOUT_FIELD), Mapping):
        return None
    text = item[LAYOUT_FIELD].get("S")
    if not isinstance(text, str):
        return None
    return tuple(name for name in text.split(",") if name)


def layout_error(stored: Sequence[str], attribute: str, slot: int) -> str | None:
    """Why querying slot `slot` for `attribute` cannot work on a table laid out as `stored` (None: it can)."""
    if slot < len(stored) and stored[slot] == attribute:
        return None
    where = f"in slot {stored.index(attribute)}" if attribute in stored else "not at all"
    return (
        f"the mirror's table indexes {attribute!r} {where} (its layout: {','.join(stored) or 'none'}), "
        f"but MIRROR_INDEXED_ATTRIBUTES puts it in slot {slot}: set it to the stack's "
        "DirectoryIndexLayout output"
    )
