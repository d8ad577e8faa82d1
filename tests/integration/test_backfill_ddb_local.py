"""The guarded PartiQL batch write (`put_snapshots`) on Amazon's DynamoDB Local, and its agreement
with the conditional PutItem (`put_snapshot`): both forms of the snapshot guard land on the same rows.

moto cannot run PartiQL statements with parameters, so this path is verified on the real engine.
Port: MIRROR_TEST_DDB_PORT, else one the kernel picks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import boto3
import pytest

from models.guard import WriteOutcome
from models.partiql import Membership
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.dynamodb_local import snap
from tests.support.fixtures import TABLE

W, S = WriteOutcome.WRITTEN, WriteOutcome.SKIPPED


def email_of(sub: str) -> str:
    record = mirror_table().get_record(sub, consistent=True)
    assert record is not None and record.attributes is not None
    return str(record.attributes.as_dict()["email"])


@pytest.mark.usefixtures("local_table")
def test_inserts_land_and_rows_written_meanwhile_are_never_overwritten() -> None:
    # Given rows written meanwhile: a newer snapshot, an older one, and a tombstone
    mirror_table().put_snapshot(snap("newer", 100, "trigger@example.com"))
    mirror_table().put_snapshot(snap("older", 1, "old@example.com"))
    mirror_table().put_tombstone("gone", observed_at=1, source="sync")

    # When the backfill believes all four rows are missing and INSERTs them at time 50
    outcomes = mirror_table().put_snapshots(
        [snap(s, 50) for s in ("newer", "older", "gone", "fresh")],
        missing={"newer", "older", "gone", "fresh"},
    )

    # Then only the missing and the older rows are written (the INSERT race falls back to the guard)
    assert outcomes == [S, W, S, W]
    assert email_of("newer") == "trigger@example.com"
    assert email_of("older") == email_of("fresh") == "backfill@example.com"
    gone = mirror_table().get_record("gone", consistent=True)
    assert gone is not None and gone.is_tombstone


@pytest.mark.usefixtures("local_table")
def test_an_update_of_a_row_that_is_not_there_becomes_an_insert() -> None:
    # Given one existing newer row and one sub the backfill wrongly believes exists
    mirror_table().put_snapshot(snap("kept", 90, "trigger@example.com"))

    # When both are UPDATEd
    outcomes = mirror_table().put_snapshots([snap("absent", 60), snap("kept", 60)], missing=set())

    # Then the absent one is inserted and the newer one kept
    assert outcomes == [W, S]
    assert email_of("absent") == "backfill@example.com"
    assert email_of("kept") == "trigger@example.com"


@pytest.mark.usefixtures("local_table")
def test_batches_above_25_statements_are_split_and_read_back() -> None:
    # Given 60 snapshots (one ListUsers page)
    page = [snap(f"sub-{i:02d}", 10) for i in range(60)]

    # When they are written and read back in bulk
    outcomes = mirror_table().put_snapshots(page, missing={s.sub for s in page})
    rows: dict[str, Any] = mirror_table().get_records([s.sub for s in page])

    # Then all landed
    assert outcomes == [W] * 60
    assert sorted(rows) == sorted(s.sub for s in page)


@pytest.mark.usefixtures("local_table")
def test_put_snapshots_in_both_forms_never_resurrect_a_tombstone() -> None:
    # Given tombstones at t=50 (one per case), and only the revive path able to leave one
    from models.table import mirror_table

    cases = [(f"t-{form}-{t}", form, t) for form in ("insert", "update") for t in (1, 50, 99)]
    for sub, _, _ in cases:
        mirror_table().put_tombstone(sub, observed_at=50, source="attribute_sync")

    # When late snapshots, older, equal and newer, arrive in both PartiQL forms (INSERT when the
    # sub was read as missing, guarded UPDATE otherwise), twice
    snapshots = [snap(sub, t) for sub, _, t in cases]
    missing = {sub for sub, form, _ in cases if form == "insert"}
    outcomes = mirror_table().put_snapshots(snapshots, missing=missing) + mirror_table().put_snapshots(
        snapshots, missing=missing
    )

    # Then none lands: every row is still its tombstone
    assert set(outcomes) == {S}
    assert all(row.is_tombstone for row in mirror_table().get_records([sub for sub, _, _ in cases]).values())
    # And the revive path lands only with a snapshot newer than the tombstone
    assert [mirror_table().revive_tombstone(s) for s in snapshots[:3]] == [S, S, W]


# --- the user directory's index keys on the real engine (GSIs built from serverless.yml) ---------


def tenant_snap(sub: str, observed_at: int, tenant: str | None, email: str = "A@Example.com") -> UserSnapshot:
    attributes = {"email": email} if tenant is None else {"email": email, "custom:tenant": tenant}
    return UserSnapshot(sub, f"user-{sub}", attributes, "CONFIRMED", True, observed_at, "backfill")


def keys_of(sub: str) -> dict[str, str | None]:
    record = mirror_table().get_record(sub, consistent=True)
    assert record is not None
    return record.stored_index_keys()


@pytest.mark.usefixtures("local_table")
def test_both_partiql_forms_write_the_index_keys_and_an_update_removes_a_lost_one() -> None:
    from cognito_mirror.record import shard_of
    from models.directory import query_users

    # Given a user INSERTed (read as missing) with an e-mail and a tenant
    assert mirror_table().put_snapshots([tenant_snap("d1", 10, "acme")], missing={"d1"}) == [W]
    tenant_key = f"custom:tenant#acme#{shard_of('d1'):02d}"
    assert keys_of("d1") == {"dir0": "email#a@example.com", "dir1": tenant_key, "dir2": None}
    # When a newer snapshot without the tenant is UPDATEd over it
    assert mirror_table().put_snapshots([tenant_snap("d1", 20, None, "New@Example.com")], missing=set()) == [
        W
    ]
    # Then the e-mail key follows the change and the tenant key is removed
    assert keys_of("d1") == {"dir0": "email#new@example.com", "dir1": None, "dir2": None}
    # And the indexes answer accordingly
    everyone = query_users("email", "NEW@example.com", limit=5, include_unverified=True)  # no email_verified
    assert [u.sub for u in everyone.users] == ["d1"]
    assert query_users("custom:tenant", "acme", limit=5).users == []


@pytest.mark.usefixtures("local_table")
def test_a_tenant_listing_on_the_real_indexes_pages_through_every_shard() -> None:
    from cognito_mirror.record import shard_of
    from models.directory import Continuation, query_users

    # Given 60 users of acme written by the PartiQL batch path and a tombstoned one
    page = [tenant_snap(f"m-{i:02d}", 10, "acme") for i in range(60)]
    mirror_table().put_snapshots(page, missing={s.sub for s in page})
    mirror_table().put_snapshot(tenant_snap("m-gone", 5, "acme"))
    mirror_table().put_tombstone("m-gone", observed_at=6, source="sync")
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
    from models.table import mirror_table

    # Given a row at observation 10
    mirror_table().put_snapshot(tenant_snap("k1", 10, "acme"))
    wrong = {"dir0": "email#other@example.com", "dir1": None, "dir2": None}
    # When keys are rewritten for another observation / Then nothing changes
    assert mirror_table().put_index_keys("k1", observed_at=9, keys=wrong) is S
    # When rewritten for the stored observation / Then only the keys change
    assert mirror_table().put_index_keys("k1", observed_at=10, keys=wrong) is W
    record = mirror_table().get_record("k1", consistent=True)
    assert record is not None and int(record.observed_at) == 10
    assert record.stored_index_keys() == wrong


# --- The snapshot guard's two renderings (models/guard.py) agree on every kind of stored row ---

GUARDED_SUB = "5c1d0f9e-1111-4222-8333-444455556666"
WRITE_AT = 50


def guarded_snapshot(observed_at: int, email: str) -> UserSnapshot:
    return UserSnapshot(GUARDED_SUB, "guarded", {"email": email}, "CONFIRMED", True, observed_at, "test")


# Each kind of stored row, and whether a snapshot observed at WRITE_AT may replace it.
STORED: dict[str, tuple[Callable[[], Any], WriteOutcome]] = {
    "row absent": (lambda: None, W),
    "older snapshot": (
        lambda: mirror_table().put_snapshot(guarded_snapshot(WRITE_AT - 1, "old@example.com")),
        W,
    ),
    "equal snapshot": (
        lambda: mirror_table().put_snapshot(guarded_snapshot(WRITE_AT, "same@example.com")),
        S,
    ),
    # A profile write in every form leaves the membership as it is.
    "older snapshot with groups": (
        lambda: (
            mirror_table().put_snapshot(guarded_snapshot(WRITE_AT - 1, "old@example.com")),
            mirror_table().put_groups(GUARDED_SUB, ["admin"], observed_at=WRITE_AT + 5, source="test"),
        ),
        W,
    ),
    "newer snapshot": (
        lambda: mirror_table().put_snapshot(guarded_snapshot(WRITE_AT + 1, "new@example.com")),
        S,
    ),
    "older tombstone": (
        lambda: mirror_table().put_tombstone(GUARDED_SUB, observed_at=WRITE_AT - 1, source="test"),
        S,
    ),
    "newer tombstone": (
        lambda: mirror_table().put_tombstone(GUARDED_SUB, observed_at=WRITE_AT + 1, source="test"),
        S,
    ),
}


def partiql_insert_first(snapshot: UserSnapshot) -> WriteOutcome:
    return mirror_table().put_snapshots([snapshot], missing={snapshot.sub})[0]


def partiql_update_first(snapshot: UserSnapshot) -> WriteOutcome:
    return mirror_table().put_snapshots([snapshot], missing=set())[0]


FORMS: dict[str, Callable[[UserSnapshot], WriteOutcome]] = {
    "condition expression (PutItem)": lambda snapshot: mirror_table().put_snapshot(snapshot),
    "PartiQL, believed missing (INSERT first)": partiql_insert_first,
    "PartiQL, believed present (UPDATE first)": partiql_update_first,
}


def stored_row(client: Any) -> dict[str, Any] | None:
    item: dict[str, Any] | None = client.get_item(
        TableName=TABLE, Key={"sub": {"S": GUARDED_SUB}}, ConsistentRead=True
    ).get("Item")
    if item is not None:
        item.pop("expires_at", None)  # a tombstone's TTL is stamped when written
    return item


@pytest.mark.parametrize("stored", sorted(STORED))
@pytest.mark.usefixtures("local_table")
def test_both_forms_of_the_snapshot_guard_land_on_the_same_rows(local_endpoint: str, stored: str) -> None:
    # Given each form of the write, run against the same stored row
    client = boto3.client("dynamodb", endpoint_url=local_endpoint)
    setup, expected = STORED[stored]
    results = {}
    for form, write in FORMS.items():
        client.delete_item(TableName=TABLE, Key={"sub": {"S": GUARDED_SUB}})
        setup()
        # When a snapshot observed at WRITE_AT is written in that form
        outcome = write(guarded_snapshot(WRITE_AT, "written@example.com"))
        results[form] = (outcome, stored_row(client))

    # Then every form has the guard's outcome and leaves the very same row
    assert {form: outcome for form, (outcome, _) in results.items()} == dict.fromkeys(FORMS, expected)
    rows = [row for _, row in results.values()]
    assert all(row == rows[0] for row in rows)
    if stored == "older snapshot with groups":
        assert rows[0] is not None and rows[0]["groups"] == {"SS": ["admin"]}


# --- The membership's guarded writes (models/guard.py MEMBERSHIP, GROUP_REMOVAL) on the real engine ---


@pytest.mark.usefixtures("local_table")
def test_membership_writes_on_the_real_engine_keep_the_newest_observation(local_endpoint: str) -> None:
    client = boto3.client("dynamodb", endpoint_url=local_endpoint)
    table = mirror_table()

    def groups() -> Any:
        return stored_row(client) or {}

    # Given no row: a membership lands nowhere
    assert table.put_groups(GUARDED_SUB, ["admin"], observed_at=10, source="test") is S
    assert stored_row(client) is None
    # Given a live row with unknown groups: the first membership lands, an older one does not
    table.put_snapshot(guarded_snapshot(5, "jane@example.com"))
    assert table.put_groups(GUARDED_SUB, ["admin", "support"], observed_at=20, source="test") is W
    assert table.put_groups(GUARDED_SUB, ["admin"], observed_at=15, source="test") is S
    assert table.put_groups(GUARDED_SUB, ["admin"], observed_at=20, source="test") is S
    assert groups()["groups"] == {"SS": ["admin", "support"]}
    # When a deletion of `admin` observed at 30 arrives, then a stale membership from before it
    assert table.remove_group(GUARDED_SUB, "admin", observed_at=30) is W
    assert table.put_groups(GUARDED_SUB, ["admin", "support"], observed_at=25, source="test") is S
    # Then only `support` is left, versioned at the deletion
    assert groups()["groups"] == {"SS": ["support"]}
    assert groups()["groups_observed_at"] == {"N": "30"}
    # And a newer observation of no group removes the set, the version stays: known, none
    assert table.put_groups(GUARDED_SUB, [], observed_at=40, source="test") is W
    assert "groups" not in groups() and groups()["groups_observed_at"] == {"N": "40"}
    # And a tombstone drops the membership and never regains it
    table.put_tombstone(GUARDED_SUB, observed_at=50, source="test")
    assert table.put_groups(GUARDED_SUB, ["admin"], observed_at=60, source="test") is S
    assert table.remove_group(GUARDED_SUB, "admin", observed_at=60) is S
    assert {"groups", "groups_observed_at"}.isdisjoint(groups())


# --- The membership guard (models/guard.py MEMBERSHIP, GROUPS_WHERE) in both renderings ---

GROUPS_AT = 50


def stored_membership(groups_observed_at: int | None, *, tombstone: bool = False) -> Callable[[], Any]:
    """A live row (profile older than WRITE_AT) with that membership version, or a tombstone."""

    def setup() -> None:
        if tombstone:
            mirror_table().put_tombstone(GUARDED_SUB, observed_at=1, source="test")
            return
        mirror_table().put_snapshot(guarded_snapshot(WRITE_AT - 1, "old@example.com"))
        if groups_observed_at is not None:
            stored = Membership(("before",), groups_observed_at)
            assert mirror_table().put_memberships([(GUARDED_SUB, stored)]) == [W]

    return setup


# Each kind of stored row; whether a membership observed at GROUPS_AT lands alone; whether it lands
# with a snapshot observed at WRITE_AT (whose own guard holds on every live row here).
STORED_MEMBERSHIP: dict[str, tuple[Callable[[], Any], WriteOutcome, WriteOutcome]] = {
    "row absent": (lambda: None, S, W),
    "membership unknown": (stored_membership(None), W, W),
    "older membership": (stored_membership(GROUPS_AT - 1), W, W),
    "equal membership": (stored_membership(GROUPS_AT), S, S),
    "newer membership": (stored_membership(GROUPS_AT + 1), S, S),
    "tombstone": (stored_membership(None, tombstone=True), S, S),
}
MEMBERSHIP = Membership(("admin", "staff"), GROUPS_AT)
ALONE: dict[str, Callable[[], WriteOutcome]] = {
    "condition expression (UpdateItem)": lambda: mirror_table().put_groups(
        GUARDED_SUB, MEMBERSHIP.groups, observed_at=GROUPS_AT, source="test"
    ),
    "PartiQL UPDATE": lambda: mirror_table().put_memberships([(GUARDED_SUB, MEMBERSHIP)])[0],
}
WITH_SNAPSHOT: dict[str, Callable[[], WriteOutcome]] = {
    f"PartiQL with the snapshot, {first}": lambda missing=missing: mirror_table().put_snapshots(
        [guarded_snapshot(WRITE_AT, "written@example.com")],
        missing=missing,
        memberships={GUARDED_SUB: MEMBERSHIP},
    )[0]
    for first, missing in (("INSERT first", {GUARDED_SUB}), ("UPDATE first", set()))
}


@pytest.mark.parametrize("stored", sorted(STORED_MEMBERSHIP))
@pytest.mark.usefixtures("local_table")
def test_both_forms_of_the_membership_guard_land_on_the_same_rows(local_endpoint: str, stored: str) -> None:
    # Given each form of the membership write, run against the same stored row
    client = boto3.client("dynamodb", endpoint_url=local_endpoint)
    setup, alone, with_snapshot = STORED_MEMBERSHIP[stored]
    results = {}
    for form, write in {**ALONE, **WITH_SNAPSHOT}.items():
        client.delete_item(TableName=TABLE, Key={"sub": {"S": GUARDED_SUB}})
        setup()
        # When a membership observed at GROUPS_AT is written in that form
        results[form] = (write(), stored_row(client))

    # Then each form has the guard's outcome: alone, only over a live row's unknown or older
    # membership; with its snapshot, also into a missing row, and never without it
    expected = dict.fromkeys(ALONE, alone) | dict.fromkeys(WITH_SNAPSHOT, with_snapshot)
    assert {form: outcome for form, (outcome, _) in results.items()} == expected
    # And the single-item and bulk forms leave the very same row; the snapshot forms the same row
    for forms in (ALONE, WITH_SNAPSHOT):
        rows = [results[form][1] for form in forms]
        assert all(row == rows[0] for row in rows)
    for form, (outcome, row) in results.items():
        if outcome is W:
            assert row is not None and row["groups"] == {"SS": ["admin", "staff"]}, form
            assert row["groups_observed_at"] == {"N": str(GROUPS_AT)}, form
        # And a profile held back with its membership (the newer one stands) is not half-written
        if stored == "newer membership":
            assert row is not None and row["observed_at"] == {"N": str(WRITE_AT - 1)}, form


@pytest.mark.usefixtures("local_table")
def test_no_group_is_stored_as_no_set_and_a_known_membership_version() -> None:
    # Given a row in two groups
    mirror_table().put_snapshot(snap("g1", 10))
    assert mirror_table().put_memberships([("g1", Membership(("a", "b"), 20))]) == [W]
    # When a later observation finds it in no group
    assert mirror_table().put_memberships([("g1", Membership((), 30))]) == [W]
    # Then the set is gone and the membership is known (observed at 30), not unknown
    record = mirror_table().get_record("g1", consistent=True)
    assert record is not None and record.groups is None and int(record.groups_observed_at) == 30


@pytest.mark.usefixtures("local_table")
def test_a_profile_whose_membership_the_sync_wrote_meanwhile_is_still_written() -> None:
    # Given a row with an older profile; the backfill reads it (membership unknown) ...
    from functions.common.backfill.compare import PageRepairer
    from functions.common.backfill.membership import Memberships
    from functions.common.backfill.options import Options, WriteMode
    from functions.common.backfill.summary import new_tally

    table = mirror_table()
    table.put_snapshot(snap("raced", 10, "old@example.com"))
    read_before_the_sync = table.get_records(["raced"])
    # ... and the sync then writes a newer membership (observed at 70) before the backfill writes
    assert table.put_groups("raced", ("ops",), observed_at=70, source="attribute_sync") is W

    # When the backfill writes its page: a newer profile and the membership it listed at 60
    repairer = PageRepairer(Options("pool", write_mode=WriteMode.PARTIQL), None, table)  # type: ignore[arg-type]
    tally = new_tally()
    with_stale_read = mock.patch.object(table, "get_records", return_value=read_before_the_sync)
    with with_stale_read:
        failed = repairer.repair(
            [snap("raced", 50, "new@example.com")], tally, Memberships(60, {"raced": ("admin",)})
        )

    # Then the statement carrying both did not land, but the profile is written on its own and the
    # sync's newer membership stands: nothing is lost
    assert failed == [] and (tally["written"], tally["groups_written"]) == (1, 0)
    assert email_of("raced") == "new@example.com"
    record = table.get_record("raced", consistent=True)
    assert record is not None and record.groups == {"ops"} and int(record.groups_observed_at) == 70


@pytest.mark.usefixtures("local_table")
def test_a_snapshot_written_without_membership_leaves_the_rows_groups() -> None:
    # Given a row whose membership is known
    mirror_table().put_snapshot(snap("kept-groups", 10, "old@example.com"))
    assert mirror_table().put_memberships([("kept-groups", Membership(("admin",), 20))]) == [W]
    # When a newer profile is written by the bulk UPDATE without a membership (--no-groups)
    assert mirror_table().put_snapshots([snap("kept-groups", 30, "new@example.com")], missing=set()) == [W]
    # Then the profile changed and the membership is as it was
    record = mirror_table().get_record("kept-groups", consistent=True)
    assert email_of("kept-groups") == "new@example.com"
    assert record is not None and record.groups == {"admin"} and int(record.groups_observed_at) == 20
