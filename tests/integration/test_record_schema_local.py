"""The bulk `put_snapshots` forms store rows that match schemas/mirror-record.v1.json.

moto cannot run PartiQL with parameters, so these forms run on DynamoDB Local.
"""

from __future__ import annotations

import boto3
import pytest

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
