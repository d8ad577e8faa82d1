"""The bulk `put_snapshots` forms store rows that match schemas/mirror-record.v1.json.

moto cannot run PartiQL with parameters, so these forms run on DynamoDB Local.
"""

from __future__ import annotations

import boto3
import pytest

from models.partiql import Membership
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.dynamodb_local import snap
from tests.support.fixtures import TABLE
from tests.support.record_schema import as_json, assert_valid


@pytest.mark.usefixtures("local_table")
def test_put_snapshots_insert_and_update_forms_store_valid_rows(
    local_endpoint: str,
) -> None:
    # Given rows the bulk writer will UPDATE (older live rows) and subs it will INSERT
    mirror_table().put_snapshot(snap("upd-1", 1))
    mirror_table().put_snapshot(snap("upd-2", 1))
    empty = UserSnapshot("ins-empty", "ins-empty", {}, "UNKNOWN", True, 50, "backfill")

    # When put_snapshots writes both forms
    mirror_table().put_snapshots(
        [
            snap("ins-1", 50),
            empty,
            snap("upd-1", 50),
            snap("upd-2", 50),
        ],
        missing={"ins-1", "ins-empty"},
    )

    # Then the rows read back raw from DynamoDB Local all match the schema, with the new version
    client = boto3.client("dynamodb", endpoint_url=local_endpoint)
    stored = [as_json(item) for item in client.scan(TableName=TABLE, ConsistentRead=True)["Items"]]
    assert len(stored) == 4
    for row in stored:
        assert_valid(row)
        assert row["observed_at"] == 50


@pytest.mark.usefixtures("local_table")
def test_put_snapshots_with_memberships_and_put_memberships_store_valid_rows(local_endpoint: str) -> None:
    # Given an older row to UPDATE, one whose membership alone is written, and subs to INSERT
    mirror_table().put_snapshot(snap("upd-1", 1))
    mirror_table().put_snapshot(snap("alone-1", 50))
    admin, none = Membership(("admin", "staff"), 60), Membership((), 60)

    # When the bulk forms write snapshots with memberships (some in no group) and a membership alone
    mirror_table().put_snapshots(
        [snap("ins-1", 50), snap("ins-none", 50), snap("upd-1", 50)],
        missing={"ins-1", "ins-none"},
        memberships={"ins-1": admin, "ins-none": none, "upd-1": admin},
    )
    mirror_table().put_memberships([("alone-1", none)])

    # Then every row read back raw matches the schema, its membership known (no group: no set)
    client = boto3.client("dynamodb", endpoint_url=local_endpoint)
    stored = {
        row["sub"]: row for row in map(as_json, client.scan(TableName=TABLE, ConsistentRead=True)["Items"])
    }
    for row in stored.values():
        assert_valid(row)
        assert row["groups_observed_at"] == 60
    assert stored["ins-1"]["groups"] == stored["upd-1"]["groups"] == ["admin", "staff"]
    assert "groups" not in stored["ins-none"] and "groups" not in stored["alone-1"]
