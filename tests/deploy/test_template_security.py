"""The generated CloudFormation templates (both user pool modes) keep the security properties."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.common.cloudtrail import SYNCED_EVENTS
from scripts.package_build import MODES, ROOT, PackagedStack
from scripts.package_iam import (
    ALLOWED_WILDCARDS,
    DYNAMODB_WRITES,
    dynamodb_write_statements,
    iam_grants,
    unexpected_wildcards,
)
from tests.support.deploy import FUNCTIONS, function_logical_id
from tests.support.writes import ROLE_WRITES, written_attributes

pytestmark = pytest.mark.deploy

TABLE_READS_RECONCILE = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Scan",
    "dynamodb:Query",
    "dynamodb:PartiQLSelect",
}
TABLE_WRITES_RECONCILE = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
}
LOGS = {("logs:CreateLogStream", "own-logs"), ("logs:PutLogEvents", "own-logs")}
# The table's stream, as its consumers (userEvents, groupMembers) read it.
STREAM = {
    (action, "stream")
    for action in (
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    )
}
# Granted only when the kmsKeyArn parameter is set (Fn::If on HasKmsKey): that key alone.
KMS = {("kms:Decrypt", "key"), ("kms:GenerateDataKey", "key")}
# The contract of each function's role: (action, target) pairs, nothing more.
EXPECTED_GRANTS: dict[str, set[tuple[str, str]]] = {
    "postConfirmation": LOGS | KMS | {("dynamodb:UpdateItem", "table")},
    "postAuthentication": LOGS | KMS | {("dynamodb:UpdateItem", "table")},
    "api": LOGS
    | KMS
    | {
        ("dynamodb:GetItem", "table"),
        ("dynamodb:UpdateItem", "table"),
        ("cognito-idp:AdminGetUser", "pool"),
        ("cognito-idp:ListUsers", "pool"),
        ("secretsmanager:GetSecretValue", "cursor-key"),
        # A group's listing: its membership items, then a page's rows.
        ("dynamodb:Query", "members-table"),
        ("dynamodb:BatchGetItem", "table"),
    }
    | {("dynamodb:Query", f"directory-{slot}") for slot in range(3)},
    "attributeSync": LOGS
    | KMS
    | {
        ("sqs:ReceiveMessage", "queue"),
        ("sqs:DeleteMessage", "queue"),
        ("sqs:GetQueueAttributes", "queue"),
        ("cognito-idp:AdminGetUser", "pool"),
        ("cognito-idp:ListUsers", "pool"),
        ("cognito-idp:AdminListGroupsForUser", "pool"),
        ("cognito-idp:GetGroup", "pool"),
        ("dynamodb:GetItem", "table"),
        ("dynamodb:PutItem", "table"),
        ("dynamodb:UpdateItem", "table"),
        ("dynamodb:Query", "username-index"),
        ("dynamodb:Query", "members-table"),
    },
    "reconcile": LOGS
    | KMS
    | {("cognito-idp:ListUsers", "pool"), ("cognito-idp:AdminGetUser", "pool")}
    | {("cognito-idp:ListGroups", "pool"), ("cognito-idp:ListUsersInGroup", "pool")}
    | {(action, target) for action in TABLE_READS_RECONCILE for target in ("table", "username-index")}
    | {(action, "table") for action in TABLE_WRITES_RECONCILE}
    | {(action, "state-table") for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")}
    | {("sqs:SendMessage", "reconcile-dlq")},
    "userEvents": LOGS | KMS | STREAM | {("events:PutEvents", "bus"), ("sqs:SendMessage", "events-dlq")},
    "repairUser": LOGS
    | KMS
    | {
        ("cognito-idp:AdminGetUser", "pool"),
        ("cognito-idp:ListUsers", "pool"),
        ("dynamodb:UpdateItem", "table"),
    },
    # Only the layout record (a condition on its key; tests/deploy/test_directory_template.py).
    "directoryLayout": LOGS | KMS | {("dynamodb:PutItem", "table")},
    "groupMembers": LOGS
    | KMS
    | STREAM
    | {("dynamodb:PutItem", "members-table"), ("sqs:SendMessage", "members-dlq")},
}
# The customer-managed key where the kmsKeyArn parameter is set, no property otherwise.
KMS_KEY_IF_SET = {"Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]}


def resources(stack: PackagedStack) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = stack.template["Resources"]
    return found


def role_of(stack: PackagedStack, function: str) -> str:
    role = resources(stack)[function_logical_id(function)]["Properties"]["Role"]
    assert set(role) == {"Fn::GetAtt"}, f"{function} must use a role of this stack, got {role}"
    name: str = role["Fn::GetAtt"][0]
    return name


def pool_arn_suffix(mode: str) -> str:
    return "${CognitoUserPoolMirrorUserPool}" if mode == "new" else MODES["existing"]["userPoolId"]


def get_att(resource: str, attribute: str = "Arn") -> str:
    """An ARN by GetAtt, as scripts.package_check renders non-Sub intrinsics."""
    return json.dumps({"Fn::GetAtt": [resource, attribute]}, sort_keys=True)


def target_of(resource: str, function: str, mode: str) -> str:
    """Name what an ARN (as text) points at, or return it unchanged when it is none of ours."""
    named = {
        get_att("MirrorTable"): "table",
        get_att("ReconcileStateTable"): "state-table",
        get_att("SyncQueue"): "queue",
        get_att("ReconcileDeadLetterQueue"): "reconcile-dlq",
        json.dumps({"Ref": "KmsKeyArn"}): "key",
        get_att("MirrorTable", "StreamArn"): "stream",
        get_att("UserEventBus"): "bus",
        get_att("UserEventsDeadLetterQueue"): "events-dlq",
        json.dumps({"Ref": "CursorKeySecret"}): "cursor-key",
        get_att("GroupMembersTable"): "members-table",
        get_att("GroupMembersDeadLetterQueue"): "members-dlq",
    }
    if resource in named:
        return named[resource]
    if resource.endswith("${MirrorTable.Arn}/index/username-index"):
        return "username-index"
    for slot in range(3):
        if resource.endswith(f"${{MirrorTable.Arn}}/index/directory-{slot}"):
            return f"directory-{slot}"
    if resource.endswith(f":userpool/{pool_arn_suffix(mode)}"):
        return "pool"
    if resource.endswith(f":log-group:/aws/lambda/cognito-mirror-ci-{function}:*"):
        return "own-logs"
    return resource


def test_every_function_runs_with_its_own_role(stack: PackagedStack) -> None:
    # Given the packaged template
    # When each function's role is looked up
    roles = {function: role_of(stack, function) for function in FUNCTIONS}
    # Then no two functions share a role, and the framework's shared role is absent
    assert len(set(roles.values())) == len(FUNCTIONS), roles
    assert "IamRoleLambdaExecution" not in resources(stack)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_role_grants_exactly_the_functions_contract(stack: PackagedStack, function: str) -> None:
    # Given the role of one function
    role = role_of(stack, function)
    # When its grants are read as (action, target) pairs
    granted = {
        (grant.action, target_of(grant.resource, function, stack.mode))
        for grant in iam_grants(stack.template)
        if grant.role == role and grant.effect == "Allow"
    }
    # Then they are exactly the contract: nothing missing, nothing more (exact ARNs, no wildcard)
    assert granted == EXPECTED_GRANTS[function]


def test_reconcile_may_delete_only_in_its_state_table(stack: PackagedStack) -> None:
    # Given the reconcile role's policy
    role = resources(stack)[role_of(stack, "reconcile")]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    # When the statement allowing DeleteItem is found
    (delete,) = [
        s for s in statements if s.get("Effect") == "Allow" and "dynamodb:DeleteItem" in s.get("Action", [])
    ]
    # Then it names the state table alone, never the users table
    assert delete["Resource"] == {"Fn::GetAtt": ["ReconcileStateTable", "Arn"]}


@pytest.mark.parametrize(
    "function", ["postConfirmation", "postAuthentication", "api", "attributeSync", "repairUser", "reconcile"]
)
def test_no_role_may_write_reserved_keys(stack: PackagedStack, function: str) -> None:
    # Given the policy of a role that writes the users table
    statements = resources(stack)[role_of(stack, function)]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    # When its Deny statements are read
    denies = [s for s in statements if s.get("Effect") == "Deny"]
    # Then one denies every kind of table write on any reserved key ('#...', never a sub)
    assert len(denies) == 1
    (deny,) = denies
    assert set(deny["Action"]) == DYNAMODB_WRITES
    assert deny["Resource"] == {"Fn::GetAtt": ["MirrorTable", "Arn"]}
    assert deny["Condition"] == {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["#*"]}}


def test_every_role_that_writes_dynamodb_is_limited_to_the_attributes_its_code_writes(
    stack: PackagedStack,
) -> None:
    # Given every Allow statement of any role that grants a DynamoDB write
    statements = dynamodb_write_statements(stack.template)
    roles = {role_of(stack, function): function for function in FUNCTIONS}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for role, statement in statements:
        # Then each is one of our functions' roles, on exact tables, never on an index
        assert role in roles, f"{role} may write DynamoDB"
        function = roles[role]
        resource = statement["Resource"]
        for target in resource if isinstance(resource, list) else [resource]:
            found[(function, target_of(json.dumps(target, sort_keys=True), function, stack.mode))] = statement
    # And the writers are exactly the functions whose code writes, each on the tables it writes
    assert set(found) == {(function, target) for function, writes in ROLE_WRITES.items() for target in writes}
    for (function, target), statement in found.items():
        # And each write is limited to the attributes that function's writes set, returning nothing
        condition = statement["Condition"]
        assert set(condition) == {"ForAllValues:StringEquals", "StringEqualsIfExists"}, (function, target)
        allowed = condition["ForAllValues:StringEquals"]["dynamodb:Attributes"]
        assert len(allowed) == len(set(allowed))
        assert set(allowed) == written_attributes(ROLE_WRITES[function][target]), (function, target)
        assert condition["StringEqualsIfExists"] == {"dynamodb:ReturnValues": ["NONE"]}


def test_the_write_check_flags_an_unconditioned_put() -> None:
    # Given a role granting PutItem without any condition
    template = {
        "Resources": {
            "Loose": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "PolicyDocument": {
                                "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "x"}]
                            }
                        }
                    ]
                },
            }
        }
    }
    # When its write statements are collected / Then the wildcard counts as a write
    ((role, statement),) = dynamodb_write_statements(template)
    assert role == "Loose" and "Condition" not in statement
    assert "dynamodb:PutItem" in DYNAMODB_WRITES


def policy_grants(stack: PackagedStack, policy: str) -> set[tuple[str, str]]:
    """A managed policy's (action, resource as JSON) pairs; it allows only, with no condition."""
    statements = resources(stack)[policy]["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in statements)
    return {
        (action, json.dumps(target, sort_keys=True))
        for statement in statements
        for action in statement["Action"]
        for target in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
    }


def test_the_reader_policy_reads_one_row_by_sub_and_invokes_the_repair_function(stack: PackagedStack) -> None:
    # Given the managed policy for consumers' roles
    # When its grants are read
    granted = policy_grants(stack, "MirrorReaderPolicy")
    # Then a reader may GetItem on the table (what the library's profile read does) and invoke the
    # repair function: no Query, so no listing of users nor the username-to-sub index
    table = {"Fn::GetAtt": ["MirrorTable", "Arn"]}
    repair = {"Fn::GetAtt": [function_logical_id("repairUser"), "Arn"]}
    assert granted == {
        ("dynamodb:GetItem", json.dumps(table, sort_keys=True)),
        ("lambda:InvokeFunction", json.dumps(repair, sort_keys=True)),
    }


def test_the_directory_reader_policy_queries_the_directory_indexes_and_group_members_only(
    stack: PackagedStack,
) -> None:
    # Given the managed policy for services that list users
    granted = policy_grants(stack, "MirrorDirectoryReaderPolicy")
    # Then it may Query the directory indexes and the group-members table, and read a group page's
    # rows with BatchGetItem: no GetItem, Scan or write, no username-index
    assert granted == {
        ("dynamodb:Query", json.dumps({"Fn::Sub": f"${{MirrorTable.Arn}}/index/directory-{slot}"}))
        for slot in range(3)
    } | {
        ("dynamodb:Query", get_att("GroupMembersTable")),
        ("dynamodb:BatchGetItem", get_att("MirrorTable")),
    }


def test_consumers_import_the_policies_the_table_and_the_repair_function(stack: PackagedStack) -> None:
    # Given the stack's outputs
    outputs = stack.template["Outputs"]
    exports = {name: out["Export"]["Name"] for name, out in outputs.items() if "Export" in out}
    # Then what a consumer's serverless.yml imports is exported under the stack's name
    ours = (
        "MirrorTableName",
        "MirrorTableArn",
        "RepairFunctionName",
        "RepairFunctionArn",
        "MirrorReaderPolicyArn",
        "MirrorDirectoryReaderPolicyArn",
        "GroupMembersTableName",
    )
    assert {name: exports.get(name) for name in ours} == {name: f"cognito-mirror-ci-{name}" for name in ours}
    assert outputs["MirrorReaderPolicyArn"]["Value"] == {"Ref": "MirrorReaderPolicy"}
    assert outputs["MirrorDirectoryReaderPolicyArn"]["Value"] == {"Ref": "MirrorDirectoryReaderPolicy"}


def test_no_wildcard_grant_beyond_the_documented_exceptions(stack: PackagedStack) -> None:
    # Given every role of the template (ours and the framework's)
    # When grants with a wildcard action or resource are collected
    unexpected = unexpected_wildcards(stack.template)
    # Then only the named exceptions remain
    assert unexpected == []


def test_wildcard_check_flags_a_broad_grant() -> None:
    # Given a template whose role allows dynamodb:* and a '*' resource
    template = {
        "Resources": {
            "Broad": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "PolicyDocument": {
                                "Statement": [
                                    {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:table"},
                                    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
                                    {
                                        "Effect": "Allow",
                                        "Action": "logs:PutLogEvents",
                                        "Resource": {"Fn::Sub": "arn:logs:log-group:/aws/lambda/*:*"},
                                    },
                                ]
                            }
                        }
                    ]
                },
            }
        }
    }
    # When it is checked
    flagged = {(grant.action, grant.resource) for grant in unexpected_wildcards(template)}
    # Then all three grants are reported
    assert flagged == {
        ("dynamodb:*", "arn:table"),
        ("s3:GetObject", "*"),
        ("logs:PutLogEvents", "arn:logs:log-group:/aws/lambda/*:*"),
    }


def test_existing_pool_custom_resource_role_is_narrowed(packaged: dict[str, PackagedStack]) -> None:
    # Given the existing-pool template, where the framework adds a custom resource to attach triggers
    stack = packaged["existing"]
    grants = [g for g in iam_grants(stack.template) if g.role == "IamRoleCustomResourcesLambdaExecution"]
    # When its grants are read
    by_action = {grant.action: grant for grant in grants}
    # Then pool updates target that pool only, PassRole only towards Cognito, and the exceptions exist
    assert by_action["cognito-idp:UpdateUserPool"].resource.endswith(":userpool/eu-west-1_Example01")
    assert by_action["iam:PassRole"].condition
    assert {(g.role, g.action) for g in grants if g.wildcard} == set(ALLOWED_WILDCARDS)


def test_table_is_on_demand_encrypted_recoverable_retained_and_protected(stack: PackagedStack) -> None:
    # Given the mirror table
    table = resources(stack)["MirrorTable"]
    props = table["Properties"]
    # Then it survives stack deletion and replacement, and keeps the deployed data safe
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": {"Fn::If": ["HasKmsKey", "KMS", {"Ref": "AWS::NoValue"}]},
        "KMSMasterKeyId": KMS_KEY_IF_SET,
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    # and the ci stage is not a dev stage: deletion protection is on
    assert props["DeletionProtectionEnabled"] is True


def test_every_route_requires_the_jwt_authorizer(stack: PackagedStack) -> None:
    # Given the HTTP API routes
    routes = stack.resources_of_type("AWS::ApiGatewayV2::Route")
    # Then they are exactly the documented ones, each behind the Cognito JWT authorizer
    assert {route["Properties"]["RouteKey"] for route in routes.values()} == {
        "GET /me",
        "GET /users/{sub}",
        "GET /users",
    }
    for route in routes.values():
        assert route["Properties"]["AuthorizationType"] == "JWT"
        assert route["Properties"]["AuthorizerId"] == {"Ref": "HttpApiAuthorizerCognitoJwt"}


def test_authorizer_trusts_the_pool_issuer_and_its_app_clients(packaged: dict[str, PackagedStack]) -> None:
    # Given the JWT authorizer of each mode
    new = resources(packaged["new"])["HttpApiAuthorizerCognitoJwt"]["Properties"]["JwtConfiguration"]
    existing = resources(packaged["existing"])["HttpApiAuthorizerCognitoJwt"]["Properties"][
        "JwtConfiguration"
    ]
    # Then a new pool's issuer and client come from the stack, an existing pool's from its params
    assert new["Issuer"] == {
        "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${CognitoUserPoolMirrorUserPool}"
    }
    assert new["Audience"] == [{"Ref": "MirrorUserPoolClient"}]
    assert existing["Issuer"] == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example01"
    assert existing["Audience"] == MODES["existing"]["appClientId"].split(",")


def test_new_pool_has_triggers_custom_attributes_and_an_app_client(
    packaged: dict[str, PackagedStack],
) -> None:
    # Given the new-pool template
    stack = packaged["new"]
    pool = resources(stack)["CognitoUserPoolMirrorUserPool"]["Properties"]
    # Then both triggers are wired to our functions, and Cognito may invoke them from this pool only
    assert pool["LambdaConfig"] == {
        "PostConfirmation": {"Fn::GetAtt": ["PostConfirmationLambdaFunction", "Arn"]},
        "PostAuthentication": {"Fn::GetAtt": ["PostAuthenticationLambdaFunction", "Arn"]},
    }
    permissions = [
        p["Properties"]
        for p in stack.resources_of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "cognito-idp.amazonaws.com"
    ]
    assert len(permissions) == 2
    assert all(
        p["SourceArn"] == {"Fn::GetAtt": ["CognitoUserPoolMirrorUserPool", "Arn"]} for p in permissions
    )
    # and the example custom attributes exist, writable by administrators only
    assert {"tenant", "plan"} <= {attribute["Name"] for attribute in pool["Schema"]}
    client = resources(stack)["MirrorUserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert not any(name.startswith("custom:") for name in client["WriteAttributes"])


def test_existing_pool_gets_both_triggers_by_name(packaged: dict[str, PackagedStack]) -> None:
    # Given the existing-pool template
    stack = packaged["existing"]
    attachments = stack.resources_of_type("Custom::CognitoUserPool").values()
    # Then a custom resource attaches each trigger to the named pool, and no pool is created
    assert {
        (
            a["Properties"]["FunctionName"],
            a["Properties"]["UserPoolName"],
            a["Properties"]["UserPoolConfigs"][0]["Trigger"],
        )
        for a in attachments
    } == {
        ("cognito-mirror-ci-postConfirmation", "example-pool", "PostConfirmation"),
        ("cognito-mirror-ci-postAuthentication", "example-pool", "PostAuthentication"),
    }
    assert not stack.resources_of_type("AWS::Cognito::UserPool")


def test_sync_path_cloudtrail_rule_queue_redrive_and_partial_batches(stack: PackagedStack) -> None:
    # Given the sync resources
    res = resources(stack)
    rule = res["SyncEventRule"]["Properties"]
    queue = res["SyncQueue"]["Properties"]
    mapping = res["AttributeSyncEventSourceMappingSQSSyncQueue"]["Properties"]
    # Then the rule selects Cognito's CloudTrail events and feeds the queue (and the DLQ if undeliverable)
    assert rule["EventPattern"]["source"] == ["aws.cognito-idp"]
    assert rule["EventPattern"]["detail-type"] == ["AWS API Call via CloudTrail"]
    assert set(rule["EventPattern"]["detail"]["eventName"]) == SYNCED_EVENTS
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["SyncQueue", "Arn"]}
    assert rule["Targets"][0]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["SyncDeadLetterQueue", "Arn"]}
    # and failed messages end in the DLQ, which keeps them longest
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SyncDeadLetterQueue", "Arn"]}
    assert (
        res["SyncDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    )
    assert queue["VisibilityTimeout"] >= 6 * res["AttributeSyncLambdaFunction"]["Properties"]["Timeout"]
    # and the function reports partial batch failures
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # and only EventBridge, from this rule, may send to the queues
    send = next(
        s for s in res["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    )
    assert send["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["SyncEventRule", "Arn"]}}}


def test_reconcile_runs_daily_within_the_lambda_limit(stack: PackagedStack) -> None:
    # Given the reconcile schedule
    rules = [
        rule["Properties"]
        for rule in stack.resources_of_type("AWS::Events::Rule").values()
        if "ScheduleExpression" in rule["Properties"]
    ]
    # Then it runs daily by default, targeting reconcile, with Lambda's longest timeout
    assert [rule["ScheduleExpression"] for rule in rules] == ["rate(1 day)"]
    assert rules[0]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["ReconcileLambdaFunction", "Arn"]}
    assert resources(stack)["ReconcileLambdaFunction"]["Properties"]["Timeout"] == 900


def test_alarms_watch_the_dlq_and_trigger_and_sync_errors(stack: PackagedStack) -> None:
    # Given the alarms
    alarms = [alarm["Properties"] for alarm in stack.resources_of_type("AWS::CloudWatch::Alarm").values()]
    watched = {
        (alarm["MetricName"], json.dumps(alarm.get("Dimensions", [{}])[0].get("Value"), sort_keys=True))
        for alarm in alarms
        if "MetricName" in alarm  # metric math alarms (docs/OPERATIONS.md) have none
    }
    # Then the DLQ depth and the errors of triggers and sync raise an alarm
    assert (
        "ApproximateNumberOfMessagesVisible",
        '{"Fn::GetAtt": ["SyncDeadLetterQueue", "QueueName"]}',
    ) in watched
    for function in (
        "PostConfirmationLambdaFunction",
        "PostAuthenticationLambdaFunction",
        "AttributeSyncLambdaFunction",
    ):
        assert ("Errors", json.dumps({"Ref": function})) in watched
    # and the failures the triggers swallow are counted and watched too
    assert any(alarm["MetricName"] == "MirrorWriteFailed" for alarm in alarms)
    assert all(alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] for alarm in alarms)


def test_logs_expire_and_functions_carry_the_powertools_environment(stack: PackagedStack) -> None:
    # Given the log groups and functions
    groups = stack.resources_of_type("AWS::Logs::LogGroup").values()
    # Then every log group has a retention
    assert all(group["Properties"].get("RetentionInDays") == 30 for group in groups)
    for function in FUNCTIONS:
        env = resources(stack)[function_logical_id(function)]["Properties"]["Environment"]["Variables"]
        # and every function has the Powertools settings and the table
        assert env["POWERTOOLS_SERVICE_NAME"] == "cognito-attribute-mirror"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "CognitoAttributeMirror/ci"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert env["MIRROR_TABLE"] == "cognito-mirror-ci-users"
        # and only functions that read Cognito name the pool (triggers get it in the event: no cycle)
        assert ("USER_POOL_ID" in env) == (function in ("api", "attributeSync", "reconcile", "repairUser"))
        # and only the reconcile names the state table, which it alone may reach
        assert env.get("MIRROR_STATE_TABLE", "") == (
            "cognito-mirror-ci-reconcile-state" if function == "reconcile" else ""
        )


def test_every_function_has_a_concurrency_bound(stack: PackagedStack) -> None:
    # Given the functions and the sync queue's event source
    props = {
        function: resources(stack)[function_logical_id(function)]["Properties"] for function in FUNCTIONS
    }
    mapping = resources(stack)["AttributeSyncEventSourceMappingSQSSyncQueue"]["Properties"]
    # Then each reserves a bounded concurrency (the defaults of the params)
    assert {function: p.get("ReservedConcurrentExecutions") for function, p in props.items()} == {
        "postConfirmation": 50,
        "postAuthentication": 50,
        "api": 10,
        "attributeSync": 5,
        "reconcile": 1,
        "userEvents": 10,
        "repairUser": 10,
        "directoryLayout": 1,
        "groupMembers": 10,
    }
    # and the sync's reservation covers its event source's maximum concurrency (AWS's advice)
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == 5


def test_http_api_stage_throttles_every_route_and_the_list_users_route_lower(stack: PackagedStack) -> None:
    # Given the HTTP API's stage
    stage = resources(stack)["HttpApiStage"]
    props = stage["Properties"]
    # Then every route is throttled, and the route whose misses call ListUsers lower still
    assert props["DefaultRouteSettings"] == {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}
    assert props["RouteSettings"] == {
        "GET /users/{sub}": {"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}
    }
    # and the stage waits for that route (a route setting must name an existing route)
    assert "HttpApiRouteGetUsersSubVar" in stage["DependsOn"]


def test_kms_key_parameter_encrypts_data_logs_and_environment_when_set(stack: PackagedStack) -> None:
    # Given the optional key parameter (empty by default: AWS-managed keys)
    parameter = stack.template["Parameters"]["KmsKeyArn"]
    assert parameter["Default"] == ""
    assert stack.template["Conditions"]["HasKmsKey"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]
    }
    res = resources(stack)
    # Then the queues, the alarm topic, the log groups and the functions' environment use it when set
    for queue in ("SyncQueue", "SyncDeadLetterQueue", "ReconcileDeadLetterQueue"):
        assert res[queue]["Properties"]["KmsMasterKeyId"] == KMS_KEY_IF_SET
        # (SQS-managed encryption otherwise: a queue takes one or the other)
        assert res[queue]["Properties"]["SqsManagedSseEnabled"] == {
            "Fn::If": ["HasKmsKey", {"Ref": "AWS::NoValue"}, True]
        }
    assert res["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == KMS_KEY_IF_SET
    assert res["Trail"]["Properties"]["KMSKeyId"] == KMS_KEY_IF_SET
    groups = stack.resources_of_type("AWS::Logs::LogGroup")
    assert {f"{function_logical_id(f)[: -len('LambdaFunction')]}LogGroup" for f in FUNCTIONS} <= set(groups)
    assert {name: group["Properties"].get("KmsKeyId") for name, group in groups.items()} == {
        name: KMS_KEY_IF_SET for name in groups
    }
    for function in FUNCTIONS:
        assert res[function_logical_id(function)]["Properties"]["KmsKeyArn"] == KMS_KEY_IF_SET


def test_failed_scheduled_reconciles_land_in_a_tls_only_dead_letter_queue(stack: PackagedStack) -> None:
    # Given the reconcile function, invoked asynchronously by its schedule
    res = resources(stack)
    function = res["ReconcileLambdaFunction"]["Properties"]
    # Then an event that fails every attempt is kept in its own queue, for 14 days
    assert function["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["ReconcileDeadLetterQueue", "Arn"]}}
    assert res["ReconcileDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 1209600
    # and that queue refuses plain-text access like the sync queues
    (tls_only,) = [
        s for s in res["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"] if s["Sid"] == "TlsOnly"
    ]
    assert {"Fn::GetAtt": ["ReconcileDeadLetterQueue", "Arn"]} in tls_only["Resource"]


def test_user_events_read_the_stream_with_partial_batches_retries_and_a_dlq(stack: PackagedStack) -> None:
    # Given the user events resources
    res = resources(stack)
    table = res["MirrorTable"]["Properties"]
    (mapping,) = [
        r["Properties"]
        for r in stack.resources_of_type("AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": ["UserEventsLambdaFunction", "Arn"]}
    ]
    # Then the table streams both images to the function
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["MirrorTable", "StreamArn"]}
    # and a failing record fails alone, is retried a bounded number of times, then goes to the DLQ
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 < mapping["MaximumRetryAttempts"] <= 10
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["UserEventsDeadLetterQueue", "Arn"]
    }
    # and the function publishes on the stack's bus, which is archived for replay
    env = res["UserEventsLambdaFunction"]["Properties"]["Environment"]["Variables"]
    assert env["MIRROR_EVENT_BUS"] == {"Ref": "UserEventBus"}
    archive = res["UserEventArchive"]["Properties"]
    assert archive["SourceArn"] == {"Fn::GetAtt": ["UserEventBus", "Arn"]}
    assert archive["RetentionDays"] == 30
    # and an alarm watches the DLQ; the bus is exported
    alarms = stack.resources_of_type("AWS::CloudWatch::Alarm").values()
    watched = [a["Properties"]["Dimensions"][0]["Value"] for a in alarms if "Dimensions" in a["Properties"]]
    assert {"Fn::GetAtt": ["UserEventsDeadLetterQueue", "QueueName"]} in watched
    assert {"UserEventBusName", "UserEventBusArn"} <= set(stack.template["Outputs"])


def test_the_event_schemas_are_registered_with_the_files_content(stack: PackagedStack) -> None:
    # Given the schema resources of the template
    schemas = stack.resources_of_type("AWS::EventSchemas::Schema").values()
    # Then each published schema file is registered, unchanged, as JSON Schema draft 4
    registered = {s["Properties"]["SchemaName"]: json.loads(s["Properties"]["Content"]) for s in schemas}
    files = {
        f"cognito-attribute-mirror@{name}": json.loads(
            (ROOT / "schemas" / "events" / f"{file}.v2.json").read_text()
        )
        for name, file in (
            ("UserCreated", "user-created"),
            ("UserUpdated", "user-updated"),
            ("UserDeleted", "user-deleted"),
        )
    }
    assert registered == files
    assert {s["Properties"]["Type"] for s in schemas} == {"JSONSchemaDraft4"}


def _bus_policy_denies_put_events(statement: dict[str, Any], principal_arn: Any) -> bool:
    """Whether a Deny statement of the bus policy applies to PutEvents from `principal_arn`
    (an ARN, or the intrinsic that yields it): the usual Deny-unless-principal form."""
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    if statement["Effect"] != "Deny" or statement["Principal"] != "*" or "events:PutEvents" not in actions:
        return False
    ((operator, keys),) = statement["Condition"].items()
    assert operator in ("ArnNotEquals", "StringNotEquals")
    ((key, allowed),) = keys.items()
    assert key == "aws:PrincipalArn"
    return principal_arn not in (allowed if isinstance(allowed, list) else [allowed])


def test_only_the_publishers_role_may_put_events_on_the_user_event_bus(stack: PackagedStack) -> None:
    # Given the bus policies of the packaged template
    policies = [p["Properties"] for p in stack.resources_of_type("AWS::Events::EventBusPolicy").values()]
    # Then one applies to the user event bus, on that bus's ARN
    (policy,) = [p for p in policies if p["EventBusName"] == {"Fn::GetAtt": ["UserEventBus", "Name"]}]
    statement = policy["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["UserEventBus", "Arn"]}
    # When PutEvents is tried by the publisher, by every other role of the stack, and by anyone else
    publisher = {"Fn::GetAtt": [role_of(stack, "userEvents"), "Arn"]}
    others = [{"Fn::GetAtt": [role_of(stack, f), "Arn"]} for f in FUNCTIONS if f != "userEvents"]
    others += ["arn:aws:iam::123456789012:user/admin", "arn:aws:iam::210987654321:role/other-account"]
    # Then the publisher is not denied (its own role allows it), everyone else is
    assert not _bus_policy_denies_put_events(statement, publisher)
    assert all(_bus_policy_denies_put_events(statement, other) for other in others)
    # and the policy denies nothing but PutEvents: rules, the archive and replays keep working
    assert statement["Action"] in ("events:PutEvents", ["events:PutEvents"])
    assert ("events:PutEvents", "bus") in EXPECTED_GRANTS["userEvents"]
