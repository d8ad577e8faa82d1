"""The guards of the one write path, each described once and rendered for both DynamoDB APIs.

A guard is a condition on the row a write would replace:

- `absent`: the write lands on a missing row;
- otherwise the row must exist and, if `observed` is set, compare its version field (`version`:
  the profile's `observed_at`, or the membership's `groups_observed_at`) with the write's (`<`: the
  stored one is older; `=`: it is the very observation), a row without that field passing only when
  `unversioned` is set; and, if `tombstone` is set, be a tombstone (True) or live (False).

`condition_expression` renders a guard for PutItem/UpdateItem; `partiql_where` renders its
existing-row part as the WHERE of a PartiQL UPDATE (a PartiQL INSERT is the `absent` part: it lands
only on a missing row). A test checks both renderings agree on every kind of stored row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cognito_mirror.record import GROUPS_OBSERVED_AT

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
