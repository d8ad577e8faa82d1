"""The guarded PartiQL batch write (`put_snapshots`) on Amazon's DynamoDB Local.

moto cannot run PartiQL statements with parameters, so this path is verified on the real engine.
Port: MIRROR_TEST_DDB_PORT, else one the kernel picks.
"""

from __future__ import annotations

from typing import Any

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
from tests.support.dynamodb_local import snap

W, S = WriteOutcome.WRITTEN, WriteOutcome.SKIPPED


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


# --- the user directory's index keys on the real engine (GSIs built from serverless.yml) ---------


def tenant_snap(sub: str, observed_at: int, tenant: str | None, email: str = "A@Example.com") -> UserSnapshot:
    attributes = {"email": email} if tenant is None else {"email": email, "custom:tenant": tenant}
    return UserSnapshot(sub, f"user-{sub}", attributes, "CONFIRMED", True, observed_at, "backfill")


def keys_of(sub: str) -> dict[str, str | None]:
    record = get_record(sub, consistent=True)
    assert record is not None
    return record.stored_index_keys()


@pytest.mark.usefixtures("local_table")
def test_both_partiql_forms_write_the_index_keys_and_an_update_removes_a_lost_one() -> None:
    from cognito_mirror.index_keys import shard_of
    from models.directory import query_users

    # Given a user INSERTed (read as missing) with an e-mail and a tenant
    assert put_snapshots([tenant_snap("d1", 10, "acme")], missing={"d1"}) == [W]
    tenant_key = f"custom:tenant#acme#{shard_of('d1'):02d}"
    assert keys_of("d1") == {"dir0": "email#a@example.com", "dir1": tenant_key, "dir2": None}
    # When a newer snapshot without the tenant is UPDATEd over it
    assert put_snapshots([tenant_snap("d1", 20, None, "New@Example.com")], missing=set()) == [W]
    # Then the e-mail key follows the change and the tenant key is removed
    assert keys_of("d1") == {"dir0": "email#new@example.com", "dir1": None, "dir2": None}
    # And the indexes answer accordingly
    assert [u.sub for u in query_users("email", "NEW@example.com", limit=5).users] == ["d1"]
    assert query_users("custom:tenant", "acme", limit=5).users == []


@pytest.mark.usefixtures("local_table")
def test_a_tenant_listing_on_the_real_indexes_pages_through_every_shard() -> None:
    from cognito_mirror.index_keys import shard_of
    from models.directory import Continuation, query_users

    # Given 60 users of acme written by the PartiQL batch path and a tombstoned one
    page = [tenant_snap(f"m-{i:02d}", 10, "acme") for i in range(60)]
    put_snapshots(page, missing={s.sub for s in page})
    put_snapshot(tenant_snap("m-gone", 5, "acme"))
    put_tombstone("m-gone", observed_at=6, source="sync")
    # When listed 25 at a time
    listed: list[str] = []
    after: Continuation | None = None
    while True:
        result = query_users("custom:tenant", "acme", limit=25, after=after)
        listed += [u.sub for u in result.users]
        if result.next is None:
            break
        after = result.next
    # Then every live user comes once, in (shard, sub) order, and the tombstone never
    assert listed == sorted((s.sub for s in page), key=lambda sub: (shard_of(sub), sub))


@pytest.mark.usefixtures("local_table")
def test_put_index_keys_on_the_real_engine_is_guarded_by_the_observation() -> None:
    from models.mirror_table import put_index_keys

    # Given a row at observation 10
    put_snapshot(tenant_snap("k1", 10, "acme"))
    wrong = {"dir0": "email#other@example.com", "dir1": None, "dir2": None}
    # When keys are rewritten for another observation / Then nothing changes
    assert put_index_keys("k1", observed_at=9, keys=wrong) is S
    # When rewritten for the stored observation / Then only the keys change
    assert put_index_keys("k1", observed_at=10, keys=wrong) is W
    record = get_record("k1", consistent=True)
    assert record is not None and int(record.observed_at) == 10
    assert record.stored_index_keys() == wrong
