"""The group-members parts of the packaged template: the table (kept like the mirror's), the stream
function that keeps it (partial batches, bounded retries, its own DLQ and alarms), and who is told
its name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts.package_build import PackagedStack
from scripts.table import GROUP_MEMBERS_TABLE, table_properties
from tests.support.deploy import FUNCTIONS, function_logical_id

pytestmark = pytest.mark.deploy

KMS_KEY_IF_SET = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}
TABLE_NAME = "cognito-mirror-ci-group-members"


def resources(stack: PackagedStack) -> dict[str, Any]:
    found: dict[str, Any] = stack.template["Resources"]
    return found


def test_the_group_members_table_is_keyed_by_group_shard_and_sub_and_kept_like_the_mirror(
    stack: PackagedStack,
) -> None:
    # Given the group-members table
    table = resources(stack)["GroupMembersTable"]
    props = table["Properties"]
    # Then it is keyed as cognito_mirror/group_members.py says, on demand, retained, recoverable,
    # encrypted with the stack's key if set, protected, and removed memberships expire
    assert props["TableName"] == TABLE_NAME
    assert props["KeySchema"] == [
        {"AttributeName": "group_key", "KeyType": "HASH"},
        {"AttributeName": "sub", "KeyType": "RANGE"},
    ]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["KMSMasterKeyId"] == KMS_KEY_IF_SET
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert "GlobalSecondaryIndexes" not in props and "StreamSpecification" not in props
    # and the tests and the local stack create it from that same resource
    assert table_properties(GROUP_MEMBERS_TABLE)["KeySchema"] == props["KeySchema"]


def test_group_members_read_the_mirrors_stream_with_partial_batches_retries_and_a_dlq(
    stack: PackagedStack,
) -> None:
    # Given the event source of the groupMembers function
    function = function_logical_id("groupMembers")
    (mapping,) = [
        r["Properties"]
        for r in stack.resources_of_type("AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": [function, "Arn"]}
    ]
    # Then it reads the mirror table's stream, beside userEvents, from the oldest record
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["MirrorTable", "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    # and a failing record fails alone, bounded retries, then its own DLQ
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 < mapping["MaximumRetryAttempts"] <= 10
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["GroupMembersDeadLetterQueue", "Arn"]
    }
    # and the DLQ is TLS-only, and watched; so is the function's lag
    policy = resources(stack)["GroupMembersDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    assert [s["Sid"] for s in policy["Statement"]] == ["TlsOnly"]
    alarms = [a["Properties"] for a in stack.resources_of_type("AWS::CloudWatch::Alarm").values()]
    watched = {
        (a["MetricName"], json.dumps(a["Dimensions"][0]["Value"], sort_keys=True))
        for a in alarms
        if "MetricName" in a
    }
    assert (
        "ApproximateNumberOfMessagesVisible",
        json.dumps({"Fn::GetAtt": ["GroupMembersDeadLetterQueue", "QueueName"]}, sort_keys=True),
    ) in watched
    assert ("IteratorAge", json.dumps({"Ref": function})) in watched


def test_only_the_projection_and_the_api_are_told_the_group_members_table(stack: PackagedStack) -> None:
    # Given every function's environment
    named = {
        function
        for function in FUNCTIONS
        if resources(stack)[function_logical_id(function)]["Properties"]["Environment"]["Variables"].get(
            "MIRROR_GROUP_MEMBERS_TABLE"
        )
        == TABLE_NAME
    }
    # Then the projection (its writer) and the api (its reader) name it
    assert {"groupMembers", "api"} <= named
