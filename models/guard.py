"""The guards of the one write path, each described once and rendered for both DynamoDB APIs.

A guard is a condition on the row a write would replace:

- `absent`: the write lands on a missing row;
- otherwise the row must exist and, if `observed` is set, compare its `observed_at` with the
  write's (`<`: the stored snapshot is older; `=`: it is the very observation), and, if `tombstone`
  is set, be a tombstone (True) or live (False).

`condition_expression` renders a guard for PutItem/UpdateItem; `partiql_where` renders its
existing-row part as the WHERE of a PartiQL UPDATE (a PartiQL INSERT is the `absent` part: it lands
only on a missing row). A test checks both renderings agree on every kind of stored row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Guard:
    absent: bool
    observed: str | None = None  # "<" or "="
    tombstone: bool | None = None


# A snapshot lands on a missing row, or over an older live snapshot: never over a newer one or a
# tombstone (subs are never reused, so a deleted user is never resurrected).
SNAPSHOT = Guard(absent=True, observed="<", tombstone=False)
# A tombstone lands unless the row already is one, whatever its time.
TOMBSTONE = Guard(absent=True, tombstone=False)
# The only write that lands on a tombstone: one older than the snapshot that proves it wrong.
REVIVE = Guard(absent=False, observed="<", tombstone=True)
# Directory keys are rewritten only on the live row still holding the snapshot they derive from.
INDEX_KEYS = Guard(absent=False, observed="=", tombstone=False)


def condition_expression(guard: Guard, observed_at: int) -> dict[str, Any]:
    """The guard as ConditionExpression arguments (names and values included) for `observed_at`."""
    names = {"#sub": "sub", "#observed_at": "observed_at", "#deleted": "deleted"}
    values: dict[str, Any] = {}
    parts: list[str] = []
    if guard.observed is not None:
        parts.append(f"#observed_at {guard.observed} :observed_at")
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
    """The guard's existing-row part as PartiQL, after `WHERE "sub" = ?`; `observed_at` is a `?`."""
    parts: list[str] = []
    if guard.observed is not None:
        parts.append(f'"observed_at" {guard.observed} ?')
    if guard.tombstone is True:
        parts.append('"deleted" = true')
    elif guard.tombstone is False:
        parts.append('("deleted" IS MISSING OR "deleted" = false)')
    return "".join(f" AND {part}" for part in parts)


# --- The membership guard (groups, groups_observed_at), versioned apart from the snapshot ----------
# A membership write lands only on a live row whose membership is unknown or observed earlier.


def groups_update(groups: tuple[str, ...], observed_at: int) -> dict[str, Any]:
    """UpdateItem arguments that store a membership under its guard (no group: `groups` removed)."""
    arguments = groups_condition(observed_at)
    arguments["ExpressionAttributeNames"]["#groups"] = "groups"
    arguments["UpdateExpression"] = "REMOVE #groups SET #groups_observed_at = :groups_observed_at"
    if groups:
        arguments["UpdateExpression"] = "SET #groups = :groups, #groups_observed_at = :groups_observed_at"
        arguments["ExpressionAttributeValues"][":groups"] = {"SS": sorted(groups)}
    return arguments


def groups_condition(observed_at: int) -> dict[str, Any]:
    """The membership guard as ConditionExpression arguments for `observed_at`."""
    return {
        "ConditionExpression": "attribute_exists(#sub)"
        " AND (attribute_not_exists(#deleted) OR #deleted = :false)"
        " AND (attribute_not_exists(#groups_observed_at) OR #groups_observed_at < :groups_observed_at)",
        "ExpressionAttributeNames": {
            "#sub": "sub",
            "#deleted": "deleted",
            "#groups_observed_at": "groups_observed_at",
        },
        "ExpressionAttributeValues": {
            ":false": {"BOOL": False},
            ":groups_observed_at": {"N": str(observed_at)},
        },
    }


# The membership guard's part of a PartiQL WHERE (the row's liveness is the snapshot guard's or
# LIVE_WHERE); its `groups_observed_at` is a `?`.
GROUPS_WHERE = ' AND ("groups_observed_at" IS MISSING OR "groups_observed_at" < ?)'
LIVE_WHERE = partiql_where(Guard(absent=False, tombstone=False))
