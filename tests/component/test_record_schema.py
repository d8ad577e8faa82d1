"""Every writer stores rows that match the published record contract, schemas/mirror-record.v1.json.

Each row is read back raw with boto3 (no PynamoDB), turned into plain JSON the way any reader
would (DynamoDB numbers as integers) and validated. moto cannot run PartiQL with parameters, so
the bulk `put_snapshots` forms run on DynamoDB Local (tests/integration/test_record_schema_local.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from jsonschema import Draft202012Validator

from models.table import mirror_table
from models.user import UserSnapshot, now_us
from tests.support.fixtures import TABLE
from tests.support.helpers import FakeLambdaContext, http_event, load_event, trigger_event
from tests.support.record_schema import SCHEMA, as_json, assert_valid, schema_errors

Rows = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def rows(ddb: Any) -> Rows:
    """Every stored row of the mirror table as plain JSON (a consistent Scan)."""

    def scan() -> list[dict[str, Any]]:
        items = ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
        return sorted((as_json(item) for item in items), key=lambda row: str(row["sub"]))

    return scan


def user_rows(all_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in all_rows if not str(row["sub"]).startswith("#")]


# --- the schema itself --------------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    # Given the published schema file / When it is checked against the 2020-12 meta-schema
    Draft202012Validator.check_schema(SCHEMA)
    # Then it is valid and names its version
    assert SCHEMA["$id"].endswith(":v1")


LIVE = {
    "sub": "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11",
    "username": "jane.doe",
    "attributes": {"email": "jane@example.com", "custom:tenant": "acme"},
    "status": "CONFIRMED",
    "enabled": True,
    "observed_at": 1_795_428_931_000_000,
    "source": "post_confirmation",
    "deleted": False,
}
TOMBSTONE = {
    "sub": "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11",
    "observed_at": 1_795_428_931_000_000,
    "source": "attribute_sync",
    "deleted": True,
    "expires_at": 1_798_020_931,
}


def without(row: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != name}


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(without(LIVE, "observed_at"), id="live-without-observed_at"),
        pytest.param(without(TOMBSTONE, "observed_at"), id="tombstone-without-observed_at"),
        pytest.param({**LIVE, "observed_at": "1795428931000000"}, id="observed_at-as-string"),
        pytest.param({**LIVE, "observed_at": 1.5}, id="observed_at-not-an-integer"),
        pytest.param({**LIVE, "attributes": {"email": 42}}, id="non-string-attribute-value"),
        pytest.param({**LIVE, "attributes": {"email": None}}, id="null-attribute-value"),
        pytest.param({**TOMBSTONE, "attributes": {"email": "x@example.com"}}, id="tombstone-with-attributes"),
        pytest.param({**TOMBSTONE, "username": "jane.doe"}, id="tombstone-with-username"),
        pytest.param(without(TOMBSTONE, "expires_at"), id="tombstone-without-ttl"),
        pytest.param({**LIVE, "deleted": True}, id="deleted-row-with-user-data"),
        pytest.param(without(LIVE, "enabled"), id="live-without-enabled"),
        pytest.param({**LIVE, "sub": "#reconcile#eu-west-1_AbC"}, id="reserved-sub"),
        pytest.param({**LIVE, "extra": "x"}, id="unknown-field"),
    ],
)
def test_the_schema_rejects_rows_that_break_the_contract(row: dict[str, Any]) -> None:
    # Given a row a correct writer never stores
    # When it is validated
    errors = schema_errors(row)
    # Then the schema rejects it
    assert errors != []


def test_the_schema_accepts_its_own_examples() -> None:
    # Given a live row, a disabled user with no attributes, and a tombstone
    disabled = {**LIVE, "attributes": {}, "enabled": False, "status": "UNKNOWN"}
    # When validated / Then all pass
    for row in (LIVE, disabled, TOMBSTONE):
        assert schema_errors(row) == []


# --- the data layer's writers ---------------------------------------------------------------------


def test_put_snapshot_and_put_tombstone_store_valid_rows(rows: Rows) -> None:
    # Given a snapshot with attributes, one with none, and a deletion of a user never mirrored
    mirror_table().put_snapshot(
        UserSnapshot("s-full", "full", {"email": "a@example.com"}, "CONFIRMED", True, 10, "backfill")
    )
    mirror_table().put_snapshot(UserSnapshot("s-empty", "empty", {}, "UNKNOWN", False, 10, "backfill"))
    mirror_table().put_snapshot(
        UserSnapshot("s-gone", "gone", {"email": "g@example.com"}, "CONFIRMED", True, 10, "backfill")
    )

    # When one live row is tombstoned, and a sub with no row is tombstoned
    mirror_table().put_tombstone("s-gone", observed_at=now_us(), source="attribute_sync")
    mirror_table().put_tombstone("s-never", observed_at=now_us(), source="attribute_sync")

    # Then every stored row matches the schema: two live users and two tombstones
    stored = rows()
    for row in stored:
        assert_valid(row)
    assert [row["deleted"] for row in stored] == [False, False, True, True]


def test_membership_writes_store_valid_rows(rows: Rows) -> None:
    # Given three live users
    for sub in ("s-groups", "s-none", "s-removed"):
        mirror_table().put_snapshot(UserSnapshot(sub, sub, {}, "CONFIRMED", True, 10, "attribute_sync"))

    # When one gets groups, one is observed in none, and one loses its only group to a deletion
    mirror_table().put_groups("s-groups", ["admin", "support"], observed_at=20, source="attribute_sync")
    mirror_table().put_groups("s-none", [], observed_at=20, source="attribute_sync")
    mirror_table().put_groups("s-removed", ["admin"], observed_at=20, source="attribute_sync")
    mirror_table().remove_group("s-removed", "admin", observed_at=30)

    # Then every row matches the schema, each membership known, as its writes left it
    stored = {str(row["sub"]): row for row in rows()}
    for row in stored.values():
        assert_valid(row)
    assert stored["s-groups"]["groups"] == ["admin", "support"]
    assert "groups" not in stored["s-none"] and stored["s-none"]["groups_observed_at"] == 20
    assert "groups" not in stored["s-removed"] and stored["s-removed"]["groups_observed_at"] == 30


# --- the writers through their real entry points ------------------------------------------------


def test_the_sign_up_and_sign_in_triggers_store_valid_rows(rows: Rows) -> None:
    # Given a confirmed sign-up and a later sign-in (the fixtures of tests/events/)
    from functions import post_authentication, post_confirmation

    sub = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"
    event = trigger_event("post_confirmation_confirm_signup", sub=sub, username="jane.doe")

    # When PostConfirmation runs, its row is read; then PostAuthentication runs
    assert post_confirmation.handler(event, FakeLambdaContext()) == event
    after_sign_up = rows()
    event = trigger_event("post_authentication", sub=sub, username="jane.doe")
    assert post_authentication.handler(event, FakeLambdaContext()) == event
    after_sign_in = rows()

    # Then each trigger's row matches the schema
    assert [row["source"] for row in after_sign_up + after_sign_in] == [
        "post_confirmation",
        "post_authentication",
    ]
    for row in after_sign_up + after_sign_in:
        assert_valid(row)
        assert row["attributes"]["custom:tenant"] == "acme"


def test_attribute_sync_stores_valid_live_disabled_and_deleted_rows(cognito: Any, rows: Rows) -> None:
    # Given three users created by an administrator and mirrored from their AdminCreateUser events
    from functions.attribute_sync import handler
    from tests.support.sync_events import cloudtrail, eventbridge, failed_ids, sqs_batch

    def deliver(*events: tuple[str, str]) -> None:
        bodies = [
            eventbridge(cloudtrail(name, pool=cognito.id, sub=subs[user], username=user))
            for name, user in events
        ]
        assert failed_ids(handler(sqs_batch(*bodies), FakeLambdaContext())) == []

    subs = {name: cognito.create_user(name, email=f"{name}@example.com") for name in ("upd", "off", "del")}
    deliver(*(("admin_create_user", user) for user in subs))

    # When one is updated, one disabled, one deleted, and their CloudTrail events arrive
    cognito.idp.admin_update_user_attributes(
        UserPoolId=cognito.id, Username="upd", UserAttributes=[{"Name": "custom:plan", "Value": "pro"}]
    )
    cognito.idp.admin_disable_user(UserPoolId=cognito.id, Username="off")
    cognito.idp.admin_delete_user(UserPoolId=cognito.id, Username="del")
    deliver(
        ("admin_update_user_attributes", "upd"), ("admin_disable_user", "off"), ("admin_delete_user", "del")
    )

    # Then the three rows match the schema: live, disabled and a tombstone
    stored = {row["sub"]: row for row in rows()}
    assert sorted(stored) == sorted(subs.values())
    for row in stored.values():
        assert_valid(row)
        assert row["source"] == "attribute_sync"
    assert stored[subs["upd"]]["attributes"]["custom:plan"] == "pro"
    assert stored[subs["off"]]["enabled"] is False
    assert stored[subs["del"]]["deleted"] is True


def test_read_through_on_get_me_stores_a_valid_row(cognito: Any, rows: Rows) -> None:
    # Given a user who is only in Cognito
    from functions import api

    sub = cognito.create_user("early.bird", email="early@example.com", custom__tenant="t1")
    claims = load_event("apigw_http_get_me")["requestContext"]["authorizer"]["jwt"]["claims"]
    claims.update(sub=sub, username="early.bird")

    # When they call GET /me
    response = api.handler(http_event("/me", claims=claims), FakeLambdaContext())

    # Then the row written through matches the schema
    assert response["statusCode"] == 200
    [row] = rows()
    assert_valid(row)
    assert row["source"] == "read_through"


@pytest.fixture
def _cli_environment() -> Iterator[None]:
    """The backfill CLI configures the process environment; give the test its own."""
    with mock.patch.dict(os.environ):
        yield


@pytest.mark.usefixtures("_cli_environment")
def test_the_backfill_cli_stores_valid_rows_and_tombstones(cognito: Any, rows: Rows) -> None:
    # Given 30 users in the pool, and a mirror row of a user no longer in it
    from functions.backfill.cli import main

    for i in range(30):
        cognito.create_user(f"user{i:02d}", email=f"u{i}@example.com", custom__tenant=f"t{i % 3}")
    mirror_table().put_snapshot(
        UserSnapshot("gone-sub", "gone", {}, "CONFIRMED", True, 1, "post_confirmation")
    )

    # When the backfill fills and prunes (conditional PutItem mode: moto has no PartiQL parameters)
    code = main(["--user-pool-id", cognito.id, "--table", TABLE, "--write-mode", "put", "--prune", "--json"])

    # Then every row it stored matches the schema: 30 live users and one tombstone
    assert code == 0
    stored = user_rows(rows())
    assert len(stored) == 31
    for row in stored:
        assert_valid(row)
        assert row["source"] == "backfill"
    assert sum(row["deleted"] for row in stored) == 1


def test_reconcile_stores_valid_rows_and_an_old_state_row_is_not_a_user(
    cognito: Any, ddb: Any, rows: Rows, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given 5 users in the pool, an empty mirror, and an engine-state row an older version left there
    from functions.reconcile import handler

    monkeypatch.setenv("MIRROR_RECONCILE_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MIRROR_RECONCILE_WRITE_MODE", "put")
    for i in range(5):
        cognito.create_user(f"r{i}", email=f"r{i}@example.com")
    old = {"sub": {"S": f"#reconcile#{cognito.id}-other"}, "state": {"S": '{"cursor": 1}'}}
    ddb.put_item(TableName=TABLE, Item=old | {"observed_at": {"N": "0"}, "deleted": {"BOOL": True}})

    # When the scheduled reconcile runs
    handler({"source": "aws.events"}, FakeLambdaContext(remaining_ms=600_000))

    # Then its user rows match the schema, and the reserved row is excluded by it
    stored = rows()
    users = user_rows(stored)
    assert len(users) == 5
    for row in users:
        assert_valid(row)
        assert row["source"] == "reconcile"
    reserved = [row for row in stored if row not in users]
    assert reserved != []
    assert all(schema_errors(row) != [] for row in reserved)
