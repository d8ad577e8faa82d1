"""A forged user change event against the example consumer (examples/consumer/user_changes.py).

EventBridge does not authenticate `source`; the mirror's bus policy stops other principals, and the
consumer, which keeps the highest `version` per user, refuses a version from beyond its clock.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from models.user import now_us
from tests.support.helpers import FakeLambdaContext
from tests.support.metrics import emitted

CONSUMER = Path(__file__).resolve().parents[2] / "examples" / "consumer" / "user_changes.py"
REPLICA = "user-replica-test"
SUB = "6a1d9e2c-3b4f-4c5d-8e6f-7a8b9c0d1e2f"
FORGED_ID = "attacker@example.net"


@pytest.fixture
def consumer(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example consumer, loaded against a moto replica table built like its serverless.yml's."""
    monkeypatch.setenv("USER_REPLICA_TABLE", REPLICA)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "mirror-consumer-test")
    boto3.client("dynamodb").create_table(
        TableName=REPLICA,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "sub", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "sub", "KeyType": "HASH"}],
    )
    spec = importlib.util.spec_from_file_location("user_changes_under_test", CONSUMER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _deliver(consumer: ModuleType, version: Any, tenant: str, event_id: str) -> Any:
    detail = {
        "id": event_id,
        "sub": SUB,
        "version": version,
        "writer": "attribute_sync",
        "changes": ["attributes.custom:tenant"],
        "profile": {
            "sub": SUB,
            "username": "u",
            "attributes": {"custom:tenant": tenant},
            "status": "CONFIRMED",
            "enabled": True,
            "updated_at": "2026-12-06T00:00:00.000Z",
        },
    }
    event = {"source": "cognito-attribute-mirror", "detail-type": "User Updated", "detail": detail}
    return consumer.handler(event, FakeLambdaContext())


def _stored(consumer: ModuleType) -> dict[str, Any]:
    item: dict[str, Any] = consumer._table.get_item(Key={"sub": SUB}, ConsistentRead=True)["Item"]
    return item


def test_a_forged_far_future_version_is_refused_and_genuine_events_keep_landing(
    consumer: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = io.StringIO()
    monkeypatch.setattr(consumer.logger.registered_handler, "stream", logs)
    # Given the replica holds a genuine update of the user
    now = now_us()
    assert _deliver(consumer, now - 10_000_000, "acme", "0f6c1a2b-3c4d-5e6f-8a9b-0c1d2e3f4a5b")["stored"]
    # When a forged update with version 9e18 and another tenant arrives, then a genuine update
    forged = _deliver(consumer, 9 * 10**18, "evil-corp", FORGED_ID)
    genuine = _deliver(consumer, now, "globex", "1a2b3c4d-5e6f-5a7b-8c9d-0e1f2a3b4c5d")
    # Then the forged one is refused, the genuine one after it is stored
    assert forged == {"stored": False}
    assert genuine == {"stored": True}
    assert _stored(consumer)["attributes"] == {"custom:tenant": "globex"}
    # and the refusal is counted and logged without anything the forger wrote
    out = capsys.readouterr().out
    assert emitted(out)["UserEventImplausibleVersion"] == 1
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    refusals = [line for line in lines if line["message"] == "event refused: implausible version"]
    assert [line["event_id"] for line in refusals] == ["<not a uuid>"]
    for text in (out, logs.getvalue()):
        assert FORGED_ID not in text and "evil-corp" not in text


@pytest.mark.parametrize("version", ["9000000000000000000", -1, 1.5, True, None])
def test_a_version_that_is_no_non_negative_integer_is_refused(consumer: ModuleType, version: Any) -> None:
    # Given an event whose version is no integer count of microseconds
    # When it is delivered
    # Then nothing is stored
    assert _deliver(consumer, version, "acme", FORGED_ID) == {"stored": False}
    assert "Item" not in consumer._table.get_item(Key={"sub": SUB})


def test_a_version_within_the_clock_skew_is_accepted_and_one_beyond_it_is_not(consumer: ModuleType) -> None:
    # Given this consumer's clock and its documented skew
    now, skew = now_us(), consumer.MAX_VERSION_SKEW_SECONDS * 1_000_000
    # Then a version a little ahead (another machine's clock) is plausible, one past the skew is not
    assert consumer.version_is_plausible(now + skew // 2, now)
    assert not consumer.version_is_plausible(now + skew + 1, now)
