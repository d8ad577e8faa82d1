"""User change events under redelivery, reordering, PutEvents failures and outages, poison records.

The stream records here come from real writes through the mirror's guarded path (one record per
write that landed, with the row before and after), so the events are those the deployed function sees.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from hypothesis import given
from hypothesis import strategies as st

from functions.common import event_publisher
from models.guard import WriteOutcome
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.fixtures import TABLE
from tests.support.user_events import (
    StubEvents,
    assert_valid_event,
    configure_bus,
    run_handler,
    stream_records,
)

SUB = "0b6f3c1e-2d4a-4e8b-9c7d-5a6b7c8d9e0f"
EMAIL = "victim.v@example.org"
T0 = 1_764_547_200_000_000


def _snapshot(at: int, source: str, **changes: Any) -> UserSnapshot:
    attributes = {"email": EMAIL, "given_name": "Zoë Ünïcødé", "custom:tenant": "acme"}
    attributes.update(changes.pop("attributes", {}))
    fields: dict[str, Any] = {"status": "CONFIRMED", "enabled": True, **changes}
    return UserSnapshot(
        sub=SUB, username="victim", attributes=attributes, observed_at=at, source=source, **fields
    )


class _Stream:
    """The table's stream as Lambda sees it: one record per write that landed, with both images.

    Built from consistent reads around each guarded write (moto serves no DynamoDB Streams API).
    """

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._ddb = boto3.client("dynamodb")

    def _item(self) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._ddb.get_item(
            TableName=TABLE, Key={"sub": {"S": SUB}}, ConsistentRead=True
        ).get("Item")
        return item

    def write(self, put: Callable[[], WriteOutcome]) -> None:
        old = self._item()
        if put() is not WriteOutcome.WRITTEN:
            return  # a refused conditional write changes nothing: no stream record
        new = self._item()
        images: dict[str, Any] = {"Keys": {"sub": {"S": SUB}}, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        images["SequenceNumber"] = str(10**20 + len(self.records))
        images.update({"OldImage": old} if old else {})
        images.update({"NewImage": new} if new else {})
        name = "MODIFY" if old else "INSERT"
        self.records.append({"eventID": images["SequenceNumber"], "eventName": name, "dynamodb": images})


def _lifecycle() -> list[dict[str, Any]]:
    """A user's life written as the mirror's writers would, including no-op and refused writes."""
    stream = _Stream()
    stream.write(lambda: mirror_table().put_snapshot(_snapshot(T0, "post_confirmation")))
    stream.write(
        lambda: mirror_table().put_snapshot(_snapshot(T0 + 10, "post_authentication"))
    )  # sign-in: no change
    stream.write(
        lambda: mirror_table().put_snapshot(_snapshot(T0 + 10, "post_authentication"))
    )  # duplicate: refused
    stream.write(
        lambda: mirror_table().put_snapshot(
            _snapshot(T0 + 20, "attribute_sync", attributes={"custom:tenant": "globex"})
        )
    )
    stream.write(lambda: mirror_table().put_snapshot(_snapshot(T0 + 15, "backfill")))  # late, older: refused
    stream.write(
        lambda: mirror_table().put_snapshot(
            _snapshot(T0 + 30, "attribute_sync", attributes={"custom:tenant": "globex"}, enabled=False)
        )
    )
    stream.write(lambda: mirror_table().put_tombstone(SUB, observed_at=T0 + 40, source="attribute_sync"))
    stream.write(
        lambda: mirror_table().put_tombstone(SUB, observed_at=T0 + 50, source="reconcile")
    )  # refused
    assert len(stream.records) == 5
    return stream.records


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> StubEvents:
    """The handler's EventBridge client is an in-process stand-in; the bus is configured."""
    client = StubEvents()
    configure_bus(monkeypatch, client)
    return client


def _handle(records: list[dict[str, Any]]) -> list[str]:
    """Run the handler on one batch; the sequence numbers it reports as failed."""
    result = run_handler({"Records": records})
    return [failure["itemIdentifier"] for failure in result["batchItemFailures"]]


def _final_state(events: list[dict[str, Any]]) -> tuple[str, int]:
    """What a consumer that dedups by id and orders by version ends with."""
    unique = {event["detail"]["id"]: event for event in events}
    last = max(unique.values(), key=lambda event: event["detail"]["version"])
    return last["detail-type"], last["detail"]["version"]


def test_real_writes_publish_exactly_one_event_per_real_change(stub: StubEvents) -> None:
    # Given a user's life through the guarded write path (sign-ins and refused writes included)
    records = _lifecycle()
    # When its stream is handled
    assert _handle(records) == []
    # Then a consumer sees created, updated, disabled, deleted: nothing for no-ops or refused writes
    events = stub.events()
    assert [(e["detail-type"], e["detail"]["changes"]) for e in events] == [
        (
            "User Created",
            ["attributes.custom:tenant", "attributes.email", "attributes.given_name", "enabled", "status"],
        ),
        ("User Updated", ["attributes.custom:tenant"]),
        ("User Updated", ["enabled"]),
        ("User Deleted", []),
    ]
    for event in events:
        assert_valid_event(event)


def test_a_redelivered_or_replayed_batch_publishes_the_same_ids_again(stub: StubEvents) -> None:
    # Given the lifecycle's stream handled once
    records = _lifecycle()
    _handle(records)
    first = [event["detail"]["id"] for event in stub.events()]
    # When the same batch is delivered again (a retry, or a replay)
    _handle(records)
    # Then every event comes again with the same id: at least once, deduplicable by id
    again = [event["detail"]["id"] for event in stub.events()[len(first) :]]
    assert again == first
    assert _final_state(stub.events()) == ("User Deleted", T0 + 40)


@given(seed=st.integers(min_value=0, max_value=2**32 - 1), split=st.integers(min_value=1, max_value=6))
def test_reordered_batches_converge_for_a_consumer_ordering_by_version(
    stub: StubEvents, seed: int, split: int
) -> None:
    # Given the lifecycle's records (written once), delivered in an arbitrary order and batching
    records = _cached_lifecycle()
    shuffled = random.Random(seed).sample(records, len(records))
    stub.accepted.clear()
    # When each batch is handled
    for start in range(0, len(shuffled), split):
        assert _handle(shuffled[start : start + split]) == []
    # Then the same events are published, and the consumer ends on the deletion
    assert len({event["detail"]["id"] for event in stub.events()}) == 4
    assert _final_state(stub.events()) == ("User Deleted", T0 + 40)


_lifecycle_records: list[dict[str, Any]] = []


def _cached_lifecycle() -> list[dict[str, Any]]:
    # Hypothesis examples share the function's moto table: write the life once.
    if not _lifecycle_records:
        _lifecycle_records.extend(_lifecycle())
    return _lifecycle_records


def _refuse(plan: Callable[[int, int], bool]) -> Callable[[int, list[dict[str, Any]]], set[int]]:
    return lambda call, entries: {index for index in range(len(entries)) if plan(call, index)}


def test_entries_refused_once_are_retried_and_nothing_is_reported(stub: StubEvents) -> None:
    # Given PutEvents refusing every other entry of its first call
    stub.fail = _refuse(lambda call, index: call == 1 and index % 2 == 0)
    # When the lifecycle is handled
    failed = _handle(_lifecycle())
    # Then the refused entries were retried and all four events published once
    assert failed == []
    assert len(stub.events()) == 4
    assert stub.calls == 2


def test_an_entry_refused_every_time_fails_only_its_record_and_a_retry_publishes_it(stub: StubEvents) -> None:
    # Given PutEvents refusing the update of custom:tenant on every attempt
    records = _lifecycle()
    stub.fail = lambda call, entries: {
        i for i, entry in enumerate(entries) if '"changes":["attributes.custom:tenant"]' in entry["Detail"]
    }
    # When the batch is handled
    failed = _handle(records)
    # Then only that record is reported (the stream retries from it), after the bounded attempts
    (update,) = [
        r for r in records if "globex" in str(r["dynamodb"].get("NewImage")) and r["eventName"] == "MODIFY"
    ][:1]
    assert failed == [update["dynamodb"]["SequenceNumber"]]
    assert stub.calls == 1 + (event_publisher.ATTEMPTS - 1)
    # When the stream redelivers from that record with PutEvents healthy again
    stub.fail = None
    index = records.index(update)
    assert _handle(records[index:]) == []
    # Then the consumer, deduplicating by id, has every event once
    assert len({event["detail"]["id"] for event in stub.events()}) == 4


def test_an_eventbridge_outage_reports_every_record_with_an_event_and_returns(stub: StubEvents) -> None:
    # Given EventBridge unreachable
    def down(call: int, entries: list[dict[str, Any]]) -> set[int]:
        raise EndpointConnectionError(endpoint_url="https://events.eu-west-1.amazonaws.com")

    stub.fail = down
    records = _lifecycle()
    # When the batch is handled
    failed = _handle(records)
    # Then every record that carries an event is reported, none that carries none, and nothing crashed
    with_event = [records[i]["dynamodb"]["SequenceNumber"] for i in (0, 2, 3, 4)]
    assert sorted(failed) == sorted(with_event)
    assert stub.events() == []


def test_a_poison_record_fails_alone_and_logs_no_value(
    stub: StubEvents, log_output: Callable[[], str]
) -> None:
    # Given a real batch with a record no writer of the mirror could produce in the middle
    records = _lifecycle()
    (poison,) = stream_records("malformed")
    batch = [*records[:2], poison, *records[2:]]
    # When it is handled
    failed = _handle(batch)
    # Then only the poison record is reported, every real change is published
    assert failed == [poison["dynamodb"]["SequenceNumber"]]
    assert len(stub.events()) == 4
    # and the logs name the record, never a value of any image
    logs = log_output()
    assert poison["dynamodb"]["SequenceNumber"] in logs
    for value in (EMAIL, "Zoë Ünïcødé", "acme", "globex", "jane.doe@example.com"):
        assert value not in logs
