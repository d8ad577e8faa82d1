"""The bulk form of the snapshot guard: PartiQL statements, 25 per BatchExecuteStatement.

An INSERT lands only on a missing row; an UPDATE carries the existing-row part of
`guard.SNAPSHOT` (rendered by `guard.partiql_where`), so together they are `put_snapshot`'s guard.
"""

from __future__ import annotations

from typing import Any

from cognito_mirror.index_keys import SLOT_NAMES
from cognito_mirror.record import FIELDS
from models import guard
from models.errors import TableUnavailableError
from models.record import WriteOutcome

BATCH_STATEMENTS_MAX = 25


def insert_statement(table: str, keys: list[str]) -> str:
    fields = ", ".join(f"'{name}': ?" for name in (*FIELDS, *keys))
    return f'INSERT INTO "{table}" VALUE {{{fields}}}'


def update_statement(table: str, keys: list[str]) -> str:
    sets = " ".join(f'SET "{name}" = ?' for name in (*FIELDS, *keys) if name != "sub")
    # Index keys the user no longer has leave their index (an absent key makes the row unlisted).
    removes = "".join(f' REMOVE "{name}"' for name in SLOT_NAMES if name not in keys)
    return f'UPDATE "{table}" {sets}{removes} WHERE "sub" = ?{guard.partiql_where(guard.SNAPSHOT)}'


def statement(item: dict[str, Any], table: str, *, insert: bool) -> dict[str, Any]:
    """The INSERT or guarded UPDATE of one serialized snapshot row."""
    keys = [name for name in SLOT_NAMES if name in item]
    if insert:
        params = [item[name] for name in (*FIELDS, *keys)]
        return {"Statement": insert_statement(table, keys), "Parameters": params}
    params = [item[name] for name in (*FIELDS, *keys) if name != "sub"]
    params += [item["sub"], item["observed_at"]]
    return {"Statement": update_statement(table, keys), "Parameters": params}


def put_snapshots(
    client: Any, table: str, items: list[dict[str, Any]], *, missing: set[str]
) -> list[WriteOutcome]:
    """Write serialized snapshot rows under the snapshot guard; outcomes in the order of `items`.

    Subs in `missing` (no row when last read) are INSERTed: that lands only on a missing row.
    The others are UPDATEd under the snapshot guard (exists, older, not a tombstone). If the row
    changed in between (an INSERT finds a row, an UPDATE finds none), the statement is retried once
    in the other form, so a row written meanwhile by a trigger or sync is never overwritten.
    botocore errors propagate; a statement DynamoDB refuses otherwise is a TableUnavailableError.
    """
    outcomes: list[WriteOutcome] = [WriteOutcome.SKIPPED] * len(items)
    pending = [(index, item["sub"]["S"] in missing) for index, item in enumerate(items)]
    for attempt in range(2):
        retry: list[tuple[int, bool]] = []
        for start in range(0, len(pending), BATCH_STATEMENTS_MAX):
            chunk = pending[start : start + BATCH_STATEMENTS_MAX]
            statements = [statement(items[i], table, insert=insert) for i, insert in chunk]
            responses = client.batch_execute_statement(Statements=statements)["Responses"]
            for (index, insert), response in zip(chunk, responses, strict=True):
                code = response.get("Error", {}).get("Code")
                if code is None:
                    outcomes[index] = WriteOutcome.WRITTEN
                elif code in ("DuplicateItem", "ConditionalCheckFailed"):
                    # INSERT met a row: try the guarded UPDATE. A failed UPDATE is either "newer or
                    # tombstone" (final) or "no row": only the INSERT form can tell, so retry once.
                    if attempt == 0:
                        retry.append((index, not insert))
                else:
                    raise TableUnavailableError(f"mirror batch write failed: {code}")
        pending = retry
    return outcomes
