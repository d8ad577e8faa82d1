"""The snapshot guard's two renderings agree: the conditional PutItem (`put_snapshot`) and the
PartiQL INSERT / guarded UPDATE (`put_snapshots`) land on exactly the same stored rows.

On Amazon's DynamoDB Local: moto cannot run PartiQL statements with parameters.
Port: MIRROR_TEST_GUARD_DDB_PORT (default 12011).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from models.record import WriteOutcome
from models.table import mirror_table
from models.user import UserSnapshot
from scripts.dynamodb_local import start_dynamodb_local
from scripts.table import create_table
from tests.fixtures import TABLE, reset_process_state

pytestmark = pytest.mark.loopback
PORT = int(os.environ.get("MIRROR_TEST_GUARD_DDB_PORT", "12011"))
SUB = "5c1d0f9e-1111-4222-8333-444455556666"
WRITE_AT = 50


def snapshot(observed_at: int, email: str) -> UserSnapshot:
    return UserSnapshot(SUB, "guarded", {"email": email}, "CONFIRMED", True, observed_at, "test")


def nothing() -> None:
    return None


# Each kind of stored row, and whether a snapshot observed at WRITE_AT may replace it.
STORED: dict[str, tuple[Callable[[], Any], WriteOutcome]] = {
    "row absent": (nothing, WriteOutcome.WRITTEN),
    "older snapshot": (
        lambda: mirror_table().put_snapshot(snapshot(WRITE_AT - 1, "old@example.com")),
        WriteOutcome.WRITTEN,
    ),
    "equal snapshot": (
        lambda: mirror_table().put_snapshot(snapshot(WRITE_AT, "same@example.com")),
        WriteOutcome.SKIPPED,
    ),
    "newer snapshot": (
        lambda: mirror_table().put_snapshot(snapshot(WRITE_AT + 1, "new@example.com")),
        WriteOutcome.SKIPPED,
    ),
    "older tombstone": (
        lambda: mirror_table().put_tombstone(SUB, observed_at=WRITE_AT - 1, source="test"),
        WriteOutcome.SKIPPED,
    ),
    "newer tombstone": (
        lambda: mirror_table().put_tombstone(SUB, observed_at=WRITE_AT + 1, source="test"),
        WriteOutcome.SKIPPED,
    ),
}
FORMS: dict[str, Callable[[UserSnapshot], WriteOutcome]] = {
    "condition expression (PutItem)": lambda s: mirror_table().put_snapshot(s),
    "PartiQL, believed missing (INSERT first)": lambda s: mirror_table().put_snapshots([s], missing={s.sub})[
        0
    ],
    "PartiQL, believed present (UPDATE first)": lambda s: mirror_table().put_snapshots([s], missing=set())[0],
}


@pytest.fixture(scope="module")
def local_endpoint() -> Iterator[str]:
    service = start_dynamodb_local(PORT)
    try:
        yield service.endpoint
    finally:
        service.stop()


@pytest.fixture
def local_table(local_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", local_endpoint)
    monkeypatch.setenv("MIRROR_DDB_READ_TIMEOUT", "10")
    client = boto3.client("dynamodb", endpoint_url=local_endpoint)
    create_table(client, TABLE)
    reset_process_state()
    yield client
    client.delete_table(TableName=TABLE)
    reset_process_state()


def stored_row(client: Any) -> dict[str, Any] | None:
    item: dict[str, Any] | None = client.get_item(
        TableName=TABLE, Key={"sub": {"S": SUB}}, ConsistentRead=True
    ).get("Item")
    if item is not None:
        item.pop("expires_at", None)  # a tombstone's TTL is stamped when written
    return item


@pytest.mark.parametrize("stored", sorted(STORED))
def test_both_forms_of_the_snapshot_guard_land_on_the_same_rows(local_table: Any, stored: str) -> None:
    # Given each form of the write, run against the same stored row
    setup, expected = STORED[stored]
    results = {}
    for form, write in FORMS.items():
        local_table.delete_item(TableName=TABLE, Key={"sub": {"S": SUB}})
        setup()
        # When a snapshot observed at WRITE_AT is written in that form
        outcome = write(snapshot(WRITE_AT, "written@example.com"))
        results[form] = (outcome, stored_row(local_table))

    # Then every form has the guard's outcome and leaves the very same row
    assert {form: outcome for form, (outcome, _) in results.items()} == dict.fromkeys(FORMS, expected)
    rows = [row for _, row in results.values()]
    assert all(row == rows[0] for row in rows)
