"""The guarded UpdateItem writes of the mirror table, rendered: which fields each sets, removes or
deletes from a set, under which guard (models/guard.py). Pure: `models.table.MirrorTable` sends them.

An UpdateItem names only the fields it writes, so every write leaves the others as they are: a
profile write (`snapshot_update`) never touches the membership (`groups`, `groups_observed_at`), a
membership write (`groups_update`, `group_removal`) never touches the profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cognito_mirror.group_members import valid_group
from cognito_mirror.index_keys import SLOT_NAMES
from cognito_mirror.record import GROUPS, GROUPS_OBSERVED_AT, KEY, is_reserved
from models import guard


def update_arguments(
    sub: str,
    rule: guard.Guard,
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
    arguments = guard.condition_expression(rule, observed_at)
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
    """A serialized snapshot row as `guard.SNAPSHOT`'s write: every field it has SET, the directory
    keys it lacks REMOVEd (an absent key makes the row unlisted), nothing else touched. No TTL to
    remove: the guard lands only on a missing or live row, and a live row carries none."""
    sets = {name: value for name, value in item.items() if name != KEY}
    removes = [name for name in SLOT_NAMES if name not in item]
    observed_at = int(item["observed_at"]["N"])
    return update_arguments(item[KEY]["S"], guard.SNAPSHOT, observed_at, sets=sets, removes=removes)


def groups_update(sub: str, groups: Iterable[str], observed_at: int) -> dict[str, Any]:
    """`sub`'s whole membership as observed at `observed_at` (`guard.MEMBERSHIP`): the set, or no
    set for no group (DynamoDB holds no empty set), and its version."""
    names = sorted(set(groups))
    if not all(valid_group(name) for name in names):
        raise ValueError("a group name Cognito cannot give")
    sets: dict[str, Any] = {GROUPS_OBSERVED_AT: {"N": str(observed_at)}}
    if names:
        sets[GROUPS] = {"SS": names}
    removes = () if names else (GROUPS,)
    return update_arguments(sub, guard.MEMBERSHIP, observed_at, sets=sets, removes=removes)


def group_removal(sub: str, group: str, observed_at: int) -> dict[str, Any]:
    """`group` taken out of `sub`'s membership, a deletion observed at `observed_at`
    (`guard.GROUP_REMOVAL`); the rest of the set stays, the version moves to the deletion's."""
    if not valid_group(group):
        raise ValueError("a group name Cognito cannot give")
    sets = {GROUPS_OBSERVED_AT: {"N": str(observed_at)}}
    deletes = {GROUPS: {"SS": [group]}}
    return update_arguments(sub, guard.GROUP_REMOVAL, observed_at, sets=sets, deletes=deletes)


def index_keys_update(sub: str, observed_at: int, keys: Mapping[str, str | None]) -> dict[str, Any]:
    """Only a row's directory keys, on the live row still holding observation `observed_at`
    (`guard.INDEX_KEYS`): the keys it has SET, the others REMOVEd."""
    sets = {name: {"S": keys[name]} for name in SLOT_NAMES if keys.get(name)}
    removes = [name for name in SLOT_NAMES if not keys.get(name)]
    return update_arguments(sub, guard.INDEX_KEYS, observed_at, sets=sets, removes=removes)
