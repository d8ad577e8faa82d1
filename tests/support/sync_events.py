"""Test helpers for attribute sync: CloudTrail fixtures for one user, EventBridge and SQS wrappers."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

from tests.support.fixtures import GROUP_MEMBERS
from tests.support.helpers import load_event

# The placeholders the tests/events/cloudtrail_*.json fixtures are written with.
FIXTURE_POOL = "eu-west-1_EXAMPLE"
FIXTURE_SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"
FIXTURE_USERNAME = "jane.doe"
HIDDEN = "HIDDEN_FOR_SECURITY_REASONS"


def cloudtrail(
    name: str, *, pool: str, sub: str | None = None, username: str | None = None
) -> dict[str, Any]:
    """`tests/events/cloudtrail_<name>.json` rewritten for one pool, sub and username."""
    text = json.dumps(load_event(f"cloudtrail_{name}"))
    for placeholder, value in ((FIXTURE_POOL, pool), (FIXTURE_SUB, sub), (FIXTURE_USERNAME, username)):
        if value is not None:
            text = text.replace(json.dumps(placeholder), json.dumps(value))
    detail: dict[str, Any] = json.loads(text)
    return detail


def eventbridge(detail: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge "AWS API Call via CloudTrail" event carrying `detail`."""
    event = load_event("eventbridge_cloudtrail_envelope")
    event["detail"] = detail
    event["time"] = detail.get("eventTime", event["time"])
    event["id"] = str(detail.get("eventID", event["id"]))
    return event


def sqs_batch(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """An SQS event whose records carry `bodies` (objects are JSON-encoded); ids msg-0, msg-1, ..."""
    template = load_event("sqs_attribute_sync")["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"msg-{index}"
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}


def deliver(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """Deliver SQS bodies to the sync handler, as Lambda's SQS event source does."""
    from functions.attribute_sync import handler
    from tests.support.helpers import FakeLambdaContext

    response: dict[str, Any] = handler(sqs_batch(*bodies), FakeLambdaContext())
    return response


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def emitted_metrics(stdout: str) -> Counter[str]:
    """Metric totals from the EMF lines Powertools printed."""
    totals: Counter[str] = Counter()
    for line in stdout.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                totals[metric["Name"]] += int(sum(value) if isinstance(value, list) else value)
    return totals


def cognito_now(cognito: Any, username: str) -> Any:
    """The user's current state, read the way the sync reads it."""
    from functions.common.cognito import read_user

    return read_user(user_pool_id=cognito.id, source="test", username=username)


def mirror(sub: str) -> Any:
    """The stored row of `sub` (consistent read), or None."""
    from models.table import mirror_table

    return mirror_table().get_record(sub, consistent=True)


def mirror_now(cognito: Any, username: str) -> Any:
    """Put the user's current state in the mirror, as a trigger or an earlier event would."""
    from models.table import mirror_table

    snapshot = cognito_now(cognito, username)
    assert snapshot is not None
    mirror_table().put_snapshot(snapshot)
    return snapshot


# --- The group-members table (a projection the `groupMembers` stream function keeps) ------------
GROUP_MEMBERS_TABLE = GROUP_MEMBERS


def create_group_members_table(client: Any, name: str = GROUP_MEMBERS_TABLE) -> None:
    """The group-members table as serverless.yml declares it, unless it exists (the `aws` fixture
    creates it in moto; a local stack's DynamoDB may not have it)."""
    from scripts.table import GROUP_MEMBERS_TABLE as RESOURCE
    from scripts.table import create_table

    create_table(client, name, resource=RESOURCE)


def record_membership(client: Any, group: str, sub: str, *, member: bool, observed_at: int) -> None:
    """One item of the projection, as the stream function writes it for `sub`'s row."""
    from cognito_mirror.group_members import GROUP, GROUP_KEY, MEMBER, OBSERVED_AT, SUB, member_key

    client.put_item(
        TableName=GROUP_MEMBERS_TABLE,
        Item={
            GROUP_KEY: {"S": member_key(group, sub)},
            SUB: {"S": sub},
            GROUP: {"S": group},
            MEMBER: {"BOOL": member},
            OBSERVED_AT: {"N": str(observed_at)},
        },
    )
