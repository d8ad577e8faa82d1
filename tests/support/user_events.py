"""Shared pieces of the user change event tests: the stream fixture, a PutEvents stand-in, schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from models.user import UserSnapshot, now_us
from tests.support.fixtures import reset_process_state
from tests.support.helpers import FakeLambdaContext, load_event

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"
SCHEMA_FILES = {
    "User Created": "user-created.v2.json",
    "User Updated": "user-updated.v2.json",
    "User Deleted": "user-deleted.v2.json",
}
BUS = "mirror-events-test"


def stream_records(*event_ids: str) -> list[dict[str, Any]]:
    """Records of tests/events/dynamodb_stream_user_changes.json by their eventID, in that order."""
    records = {record["eventID"]: record for record in load_event("dynamodb_stream_user_changes")["Records"]}
    return [records[event_id] for event_id in event_ids]


def stream_batch(*event_ids: str) -> dict[str, Any]:
    return {"Records": stream_records(*event_ids)}


@cache
def _validator(detail_type: str) -> Draft4Validator:
    schema = json.loads((SCHEMAS / SCHEMA_FILES[detail_type]).read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def assert_valid_event(event: dict[str, Any]) -> None:
    """`event` (an EventBridge event: source, detail-type, detail) matches its published schema."""
    _validator(event["detail-type"]).validate(event)


def as_event(entry: dict[str, Any]) -> dict[str, Any]:
    """A PutEvents entry in the shape EventBridge delivers it."""
    return {
        "source": entry["Source"],
        "detail-type": entry["DetailType"],
        "detail": json.loads(entry["Detail"]),
    }


class StubEvents:
    """An in-process PutEvents: records accepted entries; `fail` decides per call which to refuse.

    `fail(call_number, entries)` returns the indexes to refuse, or raises to fail the whole call.
    """

    def __init__(self, fail: Callable[[int, list[dict[str, Any]]], set[int]] | None = None) -> None:
        self.fail = fail
        self.calls = 0
        self.accepted: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        assert 1 <= len(Entries) <= 10
        refused = self.fail(self.calls, Entries) if self.fail else set()
        results: list[dict[str, Any]] = []
        for index, entry in enumerate(Entries):
            if index in refused:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                self.accepted.append(entry)
                results.append({"EventId": f"e-{len(self.accepted)}"})
        return {"FailedEntryCount": len(refused), "Entries": results}

    def events(self) -> list[dict[str, Any]]:
        return [as_event(entry) for entry in self.accepted]


def tenant_snapshot(sub: str, tenant: str, *, source: str) -> UserSnapshot:
    """A confirmed user `sub` in `tenant`, observed now: the writes of the restart tests."""
    return UserSnapshot(
        sub=sub,
        username=f"{source}-{sub[:8]}",
        attributes={"email": f"{sub[:8]}@example.com", "custom:tenant": tenant},
        status="CONFIRMED",
        enabled=True,
        observed_at=now_us(),
        source=source,
    )


def assert_consumer_view(
    details: list[dict[str, Any]], *, changes: int, last_tenant: dict[str, str], last_version: dict[str, int]
) -> None:
    """What a consumer of the bus relies on, over the event details it received (any order):
    duplicates are the same event (same id, same content), one distinct id per change, and each
    user's highest `version` is their last write, with their last `custom:tenant`."""
    by_id: dict[str, dict[str, Any]] = {}
    for detail in details:
        assert by_id.setdefault(detail["id"], detail) == detail
    assert len(by_id) == changes
    latest: dict[str, dict[str, Any]] = {}
    for detail in details:
        if detail["sub"] not in latest or int(detail["version"]) > int(latest[detail["sub"]]["version"]):
            latest[detail["sub"]] = detail
    assert {sub: d["profile"]["attributes"]["custom:tenant"] for sub, d in latest.items()} == last_tenant
    assert {sub: int(d["version"]) for sub, d in latest.items()} == last_version


def configure_bus(monkeypatch: pytest.MonkeyPatch, client: Any) -> None:
    """MIRROR_EVENT_BUS set, and the publisher's client replaced (None: a new boto3 one, e.g. moto's)."""
    from functions.common import event_publisher

    monkeypatch.setenv("MIRROR_EVENT_BUS", BUS)
    reset_process_state()
    if client is not None:
        monkeypatch.setattr(event_publisher, "events_client", cache(lambda: client))
    monkeypatch.setattr(event_publisher, "BACKOFF_BASE_SECONDS", 0.001)


def run_handler(batch: dict[str, Any]) -> dict[str, Any]:
    """`functions.user_events.handler` on one stream batch; its partial batch response."""
    from functions.user_events import handler

    result: dict[str, Any] = handler(batch, FakeLambdaContext())
    return result
