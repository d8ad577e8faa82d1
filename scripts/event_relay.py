"""The local stack's EventBridge: moto's server holds the bus and the consumer's rule; a relay feeds
the rule's queue to the consumer's function.

moto evaluates the rule's pattern (the one in examples/consumer/serverless.yml) and delivers matching
events to an SQS target, but cannot invoke a Lambda target. So the rule targets a queue, and
`Relay` long-polls it and invokes `userChanges` through the consumer's serverless-offline Lambda API
(its warm function pool), deleting a message only once the function succeeded: a failure is retried
when the message becomes visible again (at least once, like an EventBridge target's retries).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from scripts.table import load_serverless

RETRY_AFTER_S = 5
POLL_WAIT_S = 1


def rule_pattern(consumer_yml: Path, function_key: str) -> dict[str, Any]:
    """The EventBridge pattern of `function_key`'s first eventBridge event in the consumer's file."""
    function = load_serverless(consumer_yml)["functions"][function_key]
    (event,) = [event["eventBridge"] for event in function["events"] if "eventBridge" in event]
    pattern: dict[str, Any] = event["pattern"]
    return pattern


def create_rule(events: Any, sqs: Any, *, bus: str, rule: str, pattern: dict[str, Any]) -> str:
    """The bus, and a rule on it whose target is a new queue; returns the queue's URL."""
    events.create_event_bus(Name=bus)
    return subscribe_queue(events, sqs, bus=bus, rule=rule, pattern=pattern)


def subscribe_queue(events: Any, sqs: Any, *, bus: str, rule: str, pattern: dict[str, Any]) -> str:
    """A rule on the existing `bus` whose target is a new queue named after it; the queue's URL."""
    queue_url = str(
        sqs.create_queue(QueueName=rule, Attributes={"VisibilityTimeout": str(RETRY_AFTER_S)})["QueueUrl"]
    )
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "relay", "Arn": queue_arn}])
    return queue_url


class Relay:
    """A daemon thread: rule queue → `function` (RequestResponse) until `stop()`."""

    def __init__(self, sqs: Any, lambdas: Any, *, queue_url: str, function: str) -> None:
        self._sqs, self._lambdas = sqs, lambdas
        self._queue_url, self._function = queue_url, function
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-relay", daemon=True)
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=POLL_WAIT_S + 5)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._relay_once()
            except Exception:  # noqa: BLE001 - a stand-in's hiccup (a restart, a timeout): poll again
                self._stopped.wait(0.5)

    def _relay_once(self) -> None:
        answer = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_WAIT_S
        )
        for message in answer.get("Messages", []):
            result = self._lambdas.invoke(
                FunctionName=self._function,
                InvocationType="RequestResponse",
                Payload=message["Body"].encode(),
            )
            result["Payload"].read()
            if result.get("FunctionError"):
                self.failed += 1  # visible again after RETRY_AFTER_S: retried
                continue
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.delivered += 1
