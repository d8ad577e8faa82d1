"""The group-members table: who is in a group, for listing a group's members (the mirror's table is
keyed by user, and an index cannot hold a user's several groups). Pure: no AWS, no settings.

It is a projection of the mirror's rows (their `groups`, cognito_mirror/record.py), kept by the
table stream's `groupMembers` function: one item per (group, user) the user was ever seen in, keyed
`group_key` = `<group>#<shard>` (the user's directory shard, two digits: one group's writes spread
over `DIRECTORY_SHARDS` partitions) and sorted by `sub`. An item holds the group, the membership
version it derives from (`observed_at`: the row's `groups_observed_at`) and `member`: true while the
user is in the group; false once removed or deleted (kept until `expires_at`, so that a replayed older
record never re-adds it). The mirror's row stays the truth: a listing reads the members' rows and
keeps only live users whose row still holds the group. See docs/DIRECTORY.md.
"""

from __future__ import annotations

import unicodedata

from cognito_mirror.record import DIRECTORY_SHARDS, shard_of

__all__ = [
    "EXPIRES_AT",
    "GROUP",
    "GROUP_KEY",
    "MAX_GROUP_NAME",
    "MEMBER",
    "OBSERVED_AT",
    "SUB",
    "member_key",
    "query_keys",
    "valid_group",
]

# The table's partition key and sort key.
GROUP_KEY = "group_key"
SUB = "sub"
# An item's other fields: the group's name, whether the user is in it, the membership's version
# (`observed_at`, integer µs) and, on a removed membership, its DynamoDB TTL (`expires_at`).
GROUP = "group"
MEMBER = "member"
OBSERVED_AT = "observed_at"
EXPIRES_AT = "expires_at"
# Cognito's limit on a group's name.
MAX_GROUP_NAME = 128


def valid_group(name: object) -> bool:
    """A name Cognito could give a group: 1..128 characters, none a space or a control character
    (Cognito allows letters, marks, symbols, numbers and punctuation)."""
    return (
        isinstance(name, str)
        and 1 <= len(name) <= MAX_GROUP_NAME
        and not any(char.isspace() or unicodedata.category(char).startswith("C") for char in name)
    )


def member_key(group: str, sub: str) -> str:
    """The partition key of `sub`'s membership of `group`."""
    return f"{group}#{shard_of(sub):02d}"


def query_keys(group: str) -> list[str]:
    """Every partition a listing of `group` reads, in shard order."""
    return [f"{group}#{shard:02d}" for shard in range(DIRECTORY_SHARDS)]
