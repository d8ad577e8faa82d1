"""The bulk form of the guarded writes: PartiQL statements, 25 per BatchExecuteStatement.

An INSERT lands only on a missing row; an UPDATE carries the existing-row part of
`guard.SNAPSHOT` (rendered by `guard.partiql_where`), so together they are `put_snapshot`'s guard.
A snapshot may carry the user's membership (`Membership`): its INSERT creates the row with it, its
UPDATE sets it too and adds the membership guard (`guard.GROUPS_WHERE`) to the WHERE, so one
statement writes both or neither. `put_memberships` writes a membership alone (the bulk
`put_groups`): an UPDATE of a live row under the membership guard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cognito_mirror.record import FIELDS, GROUPS, GROUPS_OBSERVED_AT, SLOT_NAMES
from models import guard
from models.errors import TableUnavailableError
from models.guard import WriteOutcome

BATCH_STATEMENTS_MAX = 25
_LANDED_ELSEWHERE = ("DuplicateItem", "ConditionalCheckFailed")


@dataclass(frozen=True)
class Membership:
    """A user's group names (sorted; empty: no group) as observed at `observed_at` (µs)."""

    groups: tuple[str, ...]
    observed_at: int


def _membership_params(membership: Membership) -> list[dict[str, Any]]:
    names = [{"SS": list(membership.groups)}] if membership.groups else []
    return [*names, {"N": str(membership.observed_at)}]


def _membership_sets(membership: Membership) -> str:
    """SET/REMOVE clauses of a membership (DynamoDB holds no empty set: no group removes it)."""
    groups = f' SET "{GROUPS}" = ?' if membership.groups else f' REMOVE "{GROUPS}"'
    return f'{groups} SET "{GROUPS_OBSERVED_AT}" = ?'


def insert_statement(table: str, keys: list[str], membership: Membership | None = None) -> str:
    names = [*FIELDS, *keys]
    if membership is not None:
        names += [GROUPS, GROUPS_OBSERVED_AT] if membership.groups else [GROUPS_OBSERVED_AT]
    fields = ", ".join(f"'{name}': ?" for name in names)
    return f'INSERT INTO "{table}" VALUE {{{fields}}}'


def update_statement(table: str, keys: list[str], membership: Membership | None = None) -> str:
    sets = " ".join(f'SET "{name}" = ?' for name in (*FIELDS, *keys) if name != "sub")
    # Index keys the user no longer has leave their index (an absent key makes the row unlisted).
    removes = "".join(f' REMOVE "{name}"' for name in SLOT_NAMES if name not in keys)
    where = f'WHERE "sub" = ?{guard.partiql_where(guard.SNAPSHOT)}'
    if membership is None:
        return f'UPDATE "{table}" {sets}{removes} {where}'
    return f'UPDATE "{table}" {sets}{removes}{_membership_sets(membership)} {where}{guard.GROUPS_WHERE}'


def statement(
    item: dict[str, Any], table: str, *, insert: bool, membership: Membership | None = None
) -> dict[str, Any]:
    """The INSERT or guarded UPDATE of one serialized snapshot row (with `membership`, if given)."""
    keys = [name for name in SLOT_NAMES if name in item]
    extra = _membership_params(membership) if membership is not None else []
    if insert:
        params = [item[name] for name in (*FIELDS, *keys)] + extra
        return {"Statement": insert_statement(table, keys, membership), "Parameters": params}
    params = [item[name] for name in (*FIELDS, *keys) if name != "sub"] + extra
    params += [item["sub"], item["observed_at"]]
    if membership is not None:
        params.append({"N": str(membership.observed_at)})
    return {"Statement": update_statement(table, keys, membership), "Parameters": params}


def membership_statement(table: str, sub: str, membership: Membership) -> dict[str, Any]:
    """The guarded UPDATE of a live row's membership alone."""
    where = f'WHERE "sub" = ?{guard.partiql_where(guard.MEMBERSHIP)}'
    text = f'UPDATE "{table}"{_membership_sets(membership)} {where}'
    params = [*_membership_params(membership), {"S": sub}, {"N": str(membership.observed_at)}]
    return {"Statement": text, "Parameters": params}


def _execute(client: Any, statements: list[dict[str, Any]]) -> list[str | None]:
    """Each statement's error code (None: it landed), 25 statements per call."""
    codes: list[str | None] = []
    for start in range(0, len(statements), BATCH_STATEMENTS_MAX):
        chunk = statements[start : start + BATCH_STATEMENTS_MAX]
        for response in client.batch_execute_statement(Statements=chunk)["Responses"]:
            code = response.get("Error", {}).get("Code")
            if code is not None and code not in _LANDED_ELSEWHERE:
                raise TableUnavailableError(f"mirror batch write failed: {code}")
            codes.append(code)
    return codes


def put_snapshots(
    client: Any,
    table: str,
    items: list[dict[str, Any]],
    *,
    missing: set[str],
    memberships: Mapping[str, Membership] | None = None,
) -> list[WriteOutcome]:
    """Write serialized snapshot rows under the snapshot guard; outcomes in the order of `items`.

    Subs in `missing` (no row when last read) are INSERTed: that lands only on a missing row.
    The others are UPDATEd under the snapshot guard (exists, older, not a tombstone). If the row
    changed in between (an INSERT finds a row, an UPDATE finds none), the statement is retried once
    in the other form, so a row written meanwhile by a trigger or sync is never overwritten.
    A sub in `memberships` is written with that membership in the same statement: its UPDATE lands
    only where the membership guard holds too (a newer membership, written by the sync since the row
    was read, makes it a no-op: the profile is then left to its own change's sync or the next run).
    botocore errors propagate; a statement DynamoDB refuses otherwise is a TableUnavailableError.
    """
    memberships = memberships or {}
    outcomes: list[WriteOutcome] = [WriteOutcome.SKIPPED] * len(items)
    pending = [(index, item["sub"]["S"] in missing) for index, item in enumerate(items)]
    for attempt in range(2):
        statements = [
            statement(items[i], table, insert=insert, membership=memberships.get(items[i]["sub"]["S"]))
            for i, insert in pending
        ]
        retry: list[tuple[int, bool]] = []
        for (index, insert), code in zip(pending, _execute(client, statements), strict=True):
            if code is None:
                outcomes[index] = WriteOutcome.WRITTEN
            elif attempt == 0:
                # INSERT met a row: try the guarded UPDATE. A failed UPDATE is either "newer or
                # tombstone" (final) or "no row": only the INSERT form can tell, so retry once.
                retry.append((index, not insert))
        pending = retry
    return outcomes


def put_memberships(client: Any, table: str, memberships: list[tuple[str, Membership]]) -> list[WriteOutcome]:
    """Write memberships alone, each on a live row whose membership is unknown or older; outcomes
    in order (SKIPPED: no live row, or a membership as new or newer is stored)."""
    statements = [membership_statement(table, sub, membership) for sub, membership in memberships]
    codes = _execute(client, statements)
    return [WriteOutcome.WRITTEN if code is None else WriteOutcome.SKIPPED for code in codes]
