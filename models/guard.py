"""The guards of the one write path, each described once and rendered for both DynamoDB APIs.

A guard is a condition on the row a write would replace:

- `absent`: the write lands on a missing row;
- otherwise the row must exist and, if `observed` is set, compare its version field (`version`:
  the profile's `observed_at`, or the membership's `groups_observed_at`) with the write's (`<`: the
  stored one is older; `=`: it is the very observation), a row without that field passing only when
  `unversioned` is set; and, if `tombstone` is set, be a tombstone (True) or live (False).

A guarded write's outcome (`WriteOutcome`) is WRITTEN when it landed, SKIPPED when its guard refused
it: the stored row is as new or newer, or a tombstone, and nothing changed.

`condition_expression` renders a guard for PutItem/UpdateItem; `partiql_where` renders its
existing-row part as the WHERE of a PartiQL UPDATE (a PartiQL INSERT is the `absent` part: it lands
only on a missing row). A test checks both renderings agree on every kind of stored row.

Then the guarded UpdateItems, each write with its guard: which fields it sets, removes or deletes
from a set (`models.table.MirrorTable` sends them). An UpdateItem names only the fields it writes,
so every write leaves the others as they are: a profile write (`snapshot_update`) never touches the
membership (`groups`, `groups_observed_at`), a membership write (`groups_update`, `group_removal`)
never touches the profile.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cognito_mirror.group_members import valid_group
from cognito_mirror.record import GROUPS, GROUPS_OBSERVED_AT, KEY, SLOT_NAMES, is_reserved

OBSERVED_AT = "observed_at"


@dataclass(frozen=True)
class Guard:
    absent: bool
    observed: str | None = None  # "<" or "="
    tombstone: bool | None = None
    version: str = OBSERVED_AT
    unversioned: bool = False


# A snapshot lands on a missing row, or over an older live snapshot: never over a newer one or a
# tombstone (subs are never reused, so a deleted user is never resurrected).
SNAPSHOT = Guard(absent=True, observed="<", tombstone=False)
# A tombstone lands unless the row already is one, whatever its time.
TOMBSTONE = Guard(absent=True, tombstone=False)
# The only write that lands on a tombstone: one older than the snapshot that proves it wrong.
REVIVE = Guard(absent=False, observed="<", tombstone=True)
# Directory keys are rewritten only on the live row still holding the snapshot they derive from.
INDEX_KEYS = Guard(absent=False, observed="=", tombstone=False)
# Membership is versioned apart from the profile: it lands on a live row whose membership is unknown
# or older (equal: a duplicate). A missing row gets none (its writer mirrors the user first); a
# tombstone never regains groups.
MEMBERSHIP = Guard(absent=False, observed="<", tombstone=False, version=GROUPS_OBSERVED_AT, unversioned=True)
# One deleted group leaves a live row whose known membership is older than the deletion's
# observation; unknown groups stay unknown, a newer membership (the group re-created and the user
# re-added) stands.
GROUP_REMOVAL = Guard(absent=False, observed="<", tombstone=False, version=GROUPS_OBSERVED_AT)


class WriteOutcome(enum.Enum):
    """A guarded write's outcome: it landed, or its guard refused it (nothing changed)."""

    WRITTEN = "written"
    SKIPPED = "skipped"


def condition_expression(guard: Guard, observed_at: int) -> dict[str, Any]:
    """The guard as ConditionExpression arguments (names and values included) for `observed_at`."""
    version = f"#{guard.version}"
    names = {"#sub": "sub", version: guard.version, "#deleted": "deleted"}
    values: dict[str, Any] = {}
    parts: list[str] = []
    if guard.observed is not None:
        compare = f"{version} {guard.observed} :observed_at"
        parts.append(f"(attribute_not_exists({version}) OR {compare})" if guard.unversioned else compare)
        values[":observed_at"] = {"N": str(observed_at)}
    if guard.tombstone is True:
        parts.append("#deleted = :true")
        values[":true"] = {"BOOL": True}
    elif guard.tombstone is False:
        parts.append("(attribute_not_exists(#deleted) OR #deleted = :false)")
        values[":false"] = {"BOOL": False}
    if guard.absent:
        existing = parts[0] if len(parts) == 1 else f"({' AND '.join(parts)})"
        expression = f"attribute_not_exists(#sub) OR {existing}" if parts else "attribute_not_exists(#sub)"
    else:
        expression = " AND ".join(["attribute_exists(#sub)", *parts])
    used = {name: field for name, field in names.items() if name in expression}
    arguments: dict[str, Any] = {"ConditionExpression": expression, "ExpressionAttributeNames": used}
    if values:
        arguments["ExpressionAttributeValues"] = values
    return arguments


def partiql_where(guard: Guard) -> str:
    """The guard's existing-row part as PartiQL, after `WHERE "sub" = ?`; the version is a `?`."""
    parts: list[str] = []
    if guard.observed is not None:
        compare = f'"{guard.version}" {guard.observed} ?'
        parts.append(f'("{guard.version}" IS MISSING OR {compare})' if guard.unversioned else compare)
    if guard.tombstone is True:
        parts.append('"deleted" = true')
    elif guard.tombstone is False:
        parts.append('("deleted" IS MISSING OR "deleted" = false)')
    return "".join(f" AND {part}" for part in parts)


# --- the guarded UpdateItems -----------------------------------------------------------------------


def update_arguments(
    sub: str,
    rule: Guard,
    observed_at: int,
    *,
    sets: Mapping[str, Any] | None = None,
    removes: Iterable[str] = (),
    deletes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """UpdateItem arguments (without the table): SET `sets`, REMOVE `removes`, DELETE `deletes`
    (values in wire format), under `rule` for a write observed at `observed_at`. ValueError for a
    reserved key: the mirror's own state is never a user."""
    if is_reserved(sub):
        raise ValueError("a reserved engine-state key is not a user")
    sets, removes, deletes = sets or {}, list(removes), deletes or {}
    clauses = []
    if sets:
        clauses.append("SET " + ", ".join(f"#{name} = :set_{name}" for name in sets))
    if removes:
        clauses.append("REMOVE " + ", ".join(f"#{name}" for name in removes))
    if deletes:
        clauses.append("DELETE " + ", ".join(f"#{name} :delete_{name}" for name in deletes))
    arguments = condition_expression(rule, observed_at)
    arguments["ExpressionAttributeNames"].update({f"#{name}": name for name in (*sets, *removes, *deletes)})
    values = {
        **arguments.get("ExpressionAttributeValues", {}),
        **{f":set_{name}": value for name, value in sets.items()},
        **{f":delete_{name}": value for name, value in deletes.items()},
    }
    if values:
        arguments["ExpressionAttributeValues"] = values
    return {"Key": {KEY: {"S": sub}}, "UpdateExpression": " ".join(clauses), **arguments}


def snapshot_update(item: Mapping[str, Any]) -> dict[str, Any]:
    """A serialized snapshot row as `SNAPSHOT`'s write: every field it has SET, the directory
    keys it lacks REMOVEd (an absent key makes the row unlisted), nothing else touched. No TTL to
    remove: the guard lands only on a missing or live row, and a live row carries none."""
    sets = {name: value for name, value in item.items() if name != KEY}
    removes = [name for name in SLOT_NAMES if name not in item]
    observed_at = int(item["observed_at"]["N"])
    return update_arguments(item[KEY]["S"], SNAPSHOT, observed_at, sets=sets, removes=removes)


def groups_update(sub: str, groups: Iterable[str], observed_at: int) -> dict[str, Any]:
    """`sub`'s whole membership as observed at `observed_at` (`MEMBERSHIP`): the set, or no
    set for no group (DynamoDB holds no empty set), and its version."""
    names = sorted(set(groups))
    if not all(valid_group(name) for name in names):
        raise ValueError("a group name Cognito cannot give")
    sets: dict[str, Any] = {GROUPS_OBSERVED_AT: {"N": str(observed_at)}}
    if names:
        sets[GROUPS] = {"SS": names}
    removes = () if names else (GROUPS,)
    return update_arguments(sub, MEMBERSHIP, observed_at, sets=sets, removes=removes)


def group_removal(sub: str, group: str, observed_at: int) -> dict[str, Any]:
    """`group` taken out of `sub`'s membership, a deletion observed at `observed_at`
    (`GROUP_REMOVAL`); the rest of the set stays, the version moves to the deletion's."""
    if not valid_group(group):
        raise ValueError("a group name Cognito cannot give")
    sets = {GROUPS_OBSERVED_AT: {"N": str(observed_at)}}
    deletes = {GROUPS: {"SS": [group]}}
    return update_arguments(sub, GROUP_REMOVAL, observed_at, sets=sets, deletes=deletes)


def index_keys_update(sub: str, observed_at: int, keys: Mapping[str, str | None]) -> dict[str, Any]:
    """Only a row's directory keys, on the live row still holding observation `observed_at`
    (`INDEX_KEYS`): the keys it has SET, the others REMOVEd."""
    sets = {name: {"S": keys[name]} for name in SLOT_NAMES if keys.get(name)}
    removes = [name for name in SLOT_NAMES if not keys.get(name)]
    return update_arguments(sub, INDEX_KEYS, observed_at, sets=sets, removes=removes)


# MEMBERSHIP's version part alone, added to the snapshot guard's WHERE when a bulk statement carries
# both (the row's liveness is the snapshot guard's); its `groups_observed_at` is a `?`.
GROUPS_WHERE = partiql_where(Guard(absent=False, observed="<", version=GROUPS_OBSERVED_AT, unversioned=True))
