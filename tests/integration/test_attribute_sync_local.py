"""attribute_sync over real HTTP: Amazon's DynamoDB Local for the mirror, moto's server for Cognito.

DynamoDB Local is the session's (tests/support/dynamodb_local.py); moto's server listens on 127.0.0.1,
port SYNC_IT_COGNITO_PORT (default: one the kernel picks, so parallel runs never collide).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from scripts.dynamodb_local import port_in_use, wait_for_port
from scripts.table import create_table
from scripts.user_pool import create_pool, create_user
from tests.support.fixtures import reset_process_state
from tests.support.helpers import FakeLambdaContext
from tests.support.loopback import free_port
from tests.support.sync_events import cloudtrail, eventbridge, failed_ids, sqs_batch

pytestmark = [pytest.mark.integration, pytest.mark.loopback]

TABLE = "mirror-sync-it"


@pytest.fixture(scope="module")
def stack(local_endpoint: str) -> Iterator[Any]:
    """DynamoDB Local with the mirror table, and a moto Cognito server with one pool."""
    from moto.server import ThreadedMotoServer

    port = int(os.environ.get("SYNC_IT_COGNITO_PORT") or free_port())
    if port_in_use(port):
        pytest.skip(f"port {port} is in use (set SYNC_IT_COGNITO_PORT)")
    cognito_server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    cognito_server.start()
    try:
        wait_for_port(port, 10)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AWS_ENDPOINT_URL_DYNAMODB", local_endpoint)
            env.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", f"http://127.0.0.1:{port}")
            env.setenv("MIRROR_TABLE", TABLE)
            env.setenv("MIRROR_DDB_READ_TIMEOUT", "5")
            dynamodb = boto3.client("dynamodb")
            create_table(dynamodb, TABLE)
            idp = boto3.client("cognito-idp")
            pool, _ = create_pool(idp, "sync-it")
            env.setenv("USER_POOL_ID", pool)
            reset_process_state()

            class Stack:
                pool_id = pool
                cognito = idp
                ddb = dynamodb

            yield Stack()
    finally:
        reset_process_state()
        cognito_server.stop()


def deliver(*bodies: Any) -> dict[str, Any]:
    from functions.attribute_sync import handler

    response: dict[str, Any] = handler(sqs_batch(*bodies), FakeLambdaContext())
    return response


def stored(stack: Any, sub: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = stack.ddb.get_item(
        TableName=TABLE, Key={"sub": {"S": sub}}, ConsistentRead=True
    ).get("Item")
    return item


def create(stack: Any, username: str, plan: str) -> str:
    attributes = {"email": f"{username}@example.com", "custom:plan": plan}
    return create_user(stack.cognito, stack.pool_id, username, attributes)


def test_a_batch_over_real_services_converges_and_survives_redelivery(stack):
    # Given two users, one updated then disabled, one deleted, and a poison record in the batch
    kept = create(stack, "wren", "free")
    gone = create(stack, "xavi", "free")
    pool = stack.pool_id
    batch = [
        eventbridge(cloudtrail("admin_create_user", pool=pool, sub=kept, username="wren")),
        eventbridge(cloudtrail("admin_create_user", pool=pool, sub=gone, username="xavi")),
        "not json",
    ]
    assert failed_ids(deliver(*batch)) == ["msg-2"]
    stack.cognito.admin_update_user_attributes(
        UserPoolId=pool, Username="wren", UserAttributes=[{"Name": "custom:plan", "Value": "pro"}]
    )
    stack.cognito.admin_disable_user(UserPoolId=pool, Username="wren")
    stack.cognito.admin_delete_user(UserPoolId=pool, Username="xavi")
    later = [
        eventbridge(cloudtrail("admin_update_user_attributes", pool=pool, sub=kept, username="wren")),
        eventbridge(cloudtrail("admin_disable_user", pool=pool, sub=kept, username="wren")),
        eventbridge(cloudtrail("admin_delete_user", pool=pool, username="xavi")),
    ]

    # When the later events arrive, then the whole history is redelivered in reverse order
    assert failed_ids(deliver(*later)) == []
    assert failed_ids(deliver(*reversed(batch[:2] + later))) == []

    # Then DynamoDB Local holds the newest state: updated and disabled, and a tombstone
    row = stored(stack, kept)
    assert row is not None
    assert row["attributes"]["M"]["custom:plan"] == {"S": "pro"}
    assert row["enabled"] == {"BOOL": False}
    assert row["source"] == {"S": "attribute_sync"}
    tombstone = stored(stack, gone)
    assert tombstone is not None and tombstone["deleted"] == {"BOOL": True}
    assert "attributes" not in tombstone


def test_memberships_over_real_services_follow_cognito_and_a_deleted_group(stack, monkeypatch):
    from tests.support.sync_events import GROUP_MEMBERS_TABLE, create_group_members_table, record_membership

    # Given the group-members table on DynamoDB Local, and a user in `admin` and `support`
    create_group_members_table(stack.ddb)
    monkeypatch.setenv("MIRROR_GROUP_MEMBERS_TABLE", GROUP_MEMBERS_TABLE)
    reset_process_state()
    pool = stack.pool_id
    sub = create(stack, "yuki", "free")
    stack.cognito.create_group(UserPoolId=pool, GroupName="support")
    for group in ("admin", "support"):
        stack.cognito.admin_add_user_to_group(UserPoolId=pool, Username="yuki", GroupName=group)
    added = cloudtrail("admin_add_user_to_group", pool=pool, username="yuki")
    try:
        # When the AdminAddUserToGroup record arrives, twice
        assert failed_ids(deliver(eventbridge(added), eventbridge(added))) == []
        # Then DynamoDB Local holds the profile and the whole membership, as a string set
        row = stored(stack, sub)
        assert row is not None and row["groups"] == {"SS": ["admin", "support"]}
        assert row["attributes"]["M"]["email"] == {"S": "yuki@example.com"}

        # When `admin` is deleted in Cognito and its DeleteGroup record arrives
        record_membership(stack.ddb, "admin", sub, member=True, observed_at=1)
        stack.cognito.delete_group(UserPoolId=pool, GroupName="admin")
        deleted = cloudtrail("delete_group", pool=pool)
        assert failed_ids(deliver(eventbridge(deleted))) == []
        # Then the row lost that group only; a late redelivery of the add record re-reads Cognito
        assert (stored(stack, sub) or {}).get("groups") == {"SS": ["support"]}
        assert failed_ids(deliver(eventbridge(added))) == []
        assert (stored(stack, sub) or {}).get("groups") == {"SS": ["support"]}
    finally:
        stack.ddb.delete_table(TableName=GROUP_MEMBERS_TABLE)
