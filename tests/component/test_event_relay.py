"""The local stack's EventBridge stand-in (scripts/event_relay.py) on moto: the consumer's rule, the relay."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3

from scripts.event_relay import Relay, create_rule, rule_pattern
from scripts.stack_info import CONSUMER_DIR, EVENTS_FUNCTION_KEY

BUS = "cognito-mirror-test-user-events"


def _entry(writer: str, sub: str) -> dict[str, Any]:
    detail = {"id": sub, "sub": sub, "username": None, "version": 1, "writer": writer, "changes": []}
    return {
        "Source": "cognito-attribute-mirror",
        "DetailType": "User Created",
        "Detail": json.dumps(detail),
        "EventBusName": BUS,
    }


class StubLambda:
    """Invoke answers: a function error for the subs in `failing`, success otherwise."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.invoked: list[str] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        sub = json.loads(Payload)["detail"]["sub"]
        self.invoked.append(sub)
        answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(b"{}")}
        if sub in self.failing:
            answer["FunctionError"] = "Unhandled"
        return answer


def test_the_consumers_rule_read_from_its_serverless_yml_mutes_the_backfills_events() -> None:
    # Given the bus and the consumer's rule, with the pattern of its serverless.yml
    events, sqs = boto3.client("events"), boto3.client("sqs")
    pattern = rule_pattern(CONSUMER_DIR / "serverless.yml", EVENTS_FUNCTION_KEY)
    queue_url = create_rule(events, sqs, bus=BUS, rule="consumer-rule", pattern=pattern)
    # When the mirror publishes one event written by the backfill and one by attribute sync
    events.put_events(Entries=[_entry("backfill", "sub-quiet"), _entry("attribute_sync", "sub-loud")])
    # Then only the attribute sync's event reaches the rule's queue
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(message["Body"])["detail"]["sub"] for message in messages] == ["sub-loud"]


def test_the_relay_deletes_a_message_only_after_the_function_succeeded() -> None:
    # Given the rule's queue holding two events, and a function that fails on the first one
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queue_url = create_rule(
        events, sqs, bus=BUS, rule="relay-rule", pattern={"source": ["cognito-attribute-mirror"]}
    )
    events.put_events(Entries=[_entry("attribute_sync", "sub-fails"), _entry("attribute_sync", "sub-works")])
    function = StubLambda(failing={"sub-fails"})
    relay = Relay(sqs, function, queue_url=queue_url, function="mirror-consumer-test-userChanges")
    # When the relay polls once
    relay._relay_once()
    # Then both were invoked; the failed one stays in the queue (retried once visible again)
    assert sorted(function.invoked) == ["sub-fails", "sub-works"]
    assert (relay.delivered, relay.failed) == (1, 1)
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
