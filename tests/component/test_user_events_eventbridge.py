"""User change events through moto's EventBridge: the handler's PutEvents → a rule → SQS, read back."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support.user_events import BUS, assert_valid_event, configure_bus, run_handler, stream_batch


def _subscribe(pattern: dict[str, Any], name: str) -> Any:
    """A queue receiving what a rule with `pattern` on the bus matches; returns a reader."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=BUS, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])

    def read() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            found += [json.loads(message["Body"]) for message in messages]
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    return read


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_bus(monkeypatch, None)
    boto3.client("events").create_event_bus(Name=BUS)


def test_subscribers_receive_schema_valid_events_from_the_bus(bus: None) -> None:
    # Given a subscriber to every event of the mirror
    read = _subscribe({"source": ["cognito-attribute-mirror"]}, "all")
    # When a batch with a creation, a sign-in, an update and a deletion is handled
    result = run_handler(stream_batch("created", "signin", "updated", "deleted"))
    # Then it receives three events, each valid against its schema, with its deterministic id
    assert result == {"batchItemFailures": []}
    received = read()
    assert [event["detail-type"] for event in received] == ["User Created", "User Updated", "User Deleted"]
    for event in received:
        assert_valid_event(event)
        assert len(event["detail"]["id"]) == 36


def test_a_consumer_mutes_backfill_writes_with_anything_but(bus: None) -> None:
    # Given one subscriber that mutes the backfill's writes, and one that takes everything
    muted = _subscribe(
        {"source": ["cognito-attribute-mirror"], "detail": {"writer": [{"anything-but": ["backfill"]}]}},
        "muted",
    )
    everything = _subscribe({"source": ["cognito-attribute-mirror"]}, "everything")
    # When a trigger's creation and a backfill's creation are published
    run_handler(stream_batch("created", "backfilled"))
    # Then the muted subscriber sees only the trigger's, the other both
    assert [event["detail"]["writer"] for event in muted()] == ["post_confirmation"]
    assert sorted(event["detail"]["writer"] for event in everything()) == ["backfill", "post_confirmation"]


def test_a_consumer_selects_disables_and_enables_by_changes(bus: None) -> None:
    # Given a subscriber to updates whose changes include enabled
    read = _subscribe(
        {
            "source": ["cognito-attribute-mirror"],
            "detail-type": ["User Updated"],
            "detail": {"changes": ["enabled"]},
        },
        "enabled",
    )
    # When an attribute update and a disable are published
    run_handler(stream_batch("updated", "disabled"))
    # Then only the disable reaches it
    (event,) = read()
    assert event["detail"]["changes"] == ["enabled"]
    assert event["detail"]["profile"]["enabled"] is False


def test_a_consumer_selects_membership_changes_by_changes(bus: None) -> None:
    # Given a subscriber to updates whose changes include groups
    read = _subscribe(
        {"source": ["cognito-attribute-mirror"], "detail": {"changes": ["groups"]}},
        "groups",
    )
    # When an attribute update, a removal from admin and the same membership re-observed are handled
    result = run_handler(stream_batch("updated", "groups_removed", "groups_reobserved"))
    # Then only the removal reaches it, schema-valid, with the groups before and after
    assert result == {"batchItemFailures": []}
    (event,) = read()
    assert_valid_event(event)
    assert event["detail"]["changes"] == ["groups"]
    assert event["detail"]["profile"]["groups"] == ["ops"]
    assert event["detail"]["previous"] == {"groups": ["admin", "ops"]}


def test_the_event_client_is_the_stacks_bounded_client_in_the_settings_region() -> None:
    from functions.common.event_publisher import events_client
    from models.settings import get_settings

    # Given the process's settings
    region = get_settings().region

    # When the publisher's EventBridge client is made
    client = events_client()

    # Then it is bounded as documented (1 s connect, 3 s read, 3 attempts) in the settings' region
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]) == (1, 3, 3)
    assert client.meta.region_name == region
