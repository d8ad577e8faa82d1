"""The guarded PartiQL batch write (`put_snapshots`) on Amazon's DynamoDB Local.

moto cannot run PartiQL statements with parameters, so this path is verified on the real engine.
Port: MIRROR_TEST_DDB_PORT (default 12010).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from models.mirror_table import (
    WriteOutcome,
    get_record,
    get_records,
    put_snapshot,
    put_snapshots,
    put_tombstone,
)
from models.user import UserSnapshot
from scripts.dynamodb_local import start_dynamodb_local
from scripts.table import create_table
from tests.unit.conftest import TABLE, reset_process_state

pytestmark = pytest.mark.loopback
PORT = int(os.environ.get("MIRROR_TEST_DDB_PORT", "12010"))
W, S = WriteOutcome.WRITTEN, WriteOutcome.SKIPPED


@pytest.fixture(scope="module")
def local_endpoint() -> Iterator[str]:
    service = start_dynamodb_local(PORT)
    try:
        yield service.endpoint
    finally:
        service.stop()


@pytest.fixture
def local_table(local_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", local_endpoint)
    monkeypatch.setenv("MIRROR_DDB_READ_TIMEOUT", "10")  # a bulk job's bound: a cold engine is slow
    client = boto3.client("dynamodb", endpoint_url=local_endpoint)
    create_table(client, TABLE)
    reset_process_state()
    yield
    client.delete_table(TableName=TABLE)
    reset_process_state()


def snap(sub: str, observed_at: int, email: str = "backfill@example.com") -> UserSnapshot:
    return UserSnapshot(sub, f"user-{sub}", {"email": email}, "CONFIRMED", True, observed_at, "backfill")


def email_of(sub: str) -> str:
    record = get_record(sub, consistent=True)
    assert record is not None and record.attributes is not None
    return str(record.attributes.as_dict()["email"])


@pytest.mark.usefixtures("local_table")
def test_inserts_land_and_rows_written_meanwhile_are_never_overwritten() -> None:
    # Given rows written meanwhile: a newer snapshot, an older one, and a tombstone
    put_snapshot(snap("newer", 100, "trigger@example.com"))
    put_snapshot(snap("older", 1, "old@example.com"))
    put_tombstone("gone", observed_at=1, source="sync")

    # When the backfill believes all four rows are missing and INSERTs them at time 50
    outcomes = put_snapshots(
        [snap(s, 50) for s in ("newer", "older", "gone", "fresh")],
        missing={"newer", "older", "gone", "fresh"},
    )

    # Then only the missing and the older rows are written (the INSERT race falls back to the guard)
    assert outcomes == [S, W, S, W]
    assert email_of("newer") == "trigger@example.com"
    assert email_of("older") == email_of("fresh") == "backfill@example.com"
    gone = get_record("gone", consistent=True)
    assert gone is not None and gone.is_tombstone


@pytest.mark.usefixtures("local_table")
def test_an_update_of_a_row_that_is_not_there_becomes_an_insert() -> None:
    # Given one existing newer row and one sub the backfill wrongly believes exists
    put_snapshot(snap("kept", 90, "trigger@example.com"))

    # When both are UPDATEd
    outcomes = put_snapshots([snap("absent", 60), snap("kept", 60)], missing=set())

    # Then the absent one is inserted and the newer one kept
    assert outcomes == [W, S]
    assert email_of("absent") == "backfill@example.com"
    assert email_of("kept") == "trigger@example.com"


@pytest.mark.usefixtures("local_table")
def test_batches_above_25_statements_are_split_and_read_back() -> None:
    # Given 60 snapshots (one ListUsers page)
    page = [snap(f"sub-{i:02d}", 10) for i in range(60)]

    # When they are written and read back in bulk
    outcomes = put_snapshots(page, missing={s.sub for s in page})
    rows: dict[str, Any] = get_records([s.sub for s in page])

    # Then all landed
    assert outcomes == [W] * 60
    assert sorted(rows) == sorted(s.sub for s in page)


@pytest.mark.usefixtures("local_table")
def test_put_snapshots_in_both_forms_never_resurrect_a_tombstone() -> None:
    # Given tombstones at t=50 (one per case), and only the revive path able to leave one
    from models.mirror_table import revive_tombstone

    cases = [(f"t-{form}-{t}", form, t) for form in ("insert", "update") for t in (1, 50, 99)]
    for sub, _, _ in cases:
        put_tombstone(sub, observed_at=50, source="attribute_sync")

    # When late snapshots, older, equal and newer, arrive in both PartiQL forms (INSERT when the
    # sub was read as missing, guarded UPDATE otherwise), twice
    snapshots = [snap(sub, t) for sub, _, t in cases]
    missing = {sub for sub, form, _ in cases if form == "insert"}
    outcomes = put_snapshots(snapshots, missing=missing) + put_snapshots(snapshots, missing=missing)

    # Then none lands: every row is still its tombstone
    assert set(outcomes) == {S}
    assert all(row.is_tombstone for row in get_records([sub for sub, _, _ in cases]).values())
    # And the revive path lands only with a snapshot newer than the tombstone
    assert [revive_tombstone(s) for s in snapshots[:3]] == [S, S, W]
