"""The one guarded write path: newest snapshot wins, duplicates are no-ops, tombstones are final."""

from __future__ import annotations

import time
from typing import Any

import pytest

from models.guard import WriteOutcome
from models.table import mirror_table
from models.user import UserSnapshot, filter_attributes

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"


def snapshot(observed_at: int, **attributes: str) -> UserSnapshot:
    return UserSnapshot(
        sub=SUB,
        username="jane.doe",
        attributes=attributes or {"email": "jane@example.com"},
        status="CONFIRMED",
        enabled=True,
        observed_at=observed_at,
        source="test",
    )


def test_first_snapshot_creates_the_row(raw_item: Any) -> None:
    # Given an empty mirror
    # When a snapshot is written
    outcome = mirror_table().put_snapshot(snapshot(100, email="a@example.com", **{"custom:tenant": "acme"}))
    # Then the row holds it, attribute names as Cognito names them
    assert outcome is WriteOutcome.WRITTEN
    item = raw_item(SUB)
    assert item["attributes"]["M"] == {"email": {"S": "a@example.com"}, "custom:tenant": {"S": "acme"}}
    assert item["observed_at"]["N"] == "100"
    assert item["deleted"]["BOOL"] is False


def test_newer_snapshot_replaces_older() -> None:
    # Given a stored snapshot
    mirror_table().put_snapshot(snapshot(100, email="old@example.com"))
    # When a newer one arrives
    outcome = mirror_table().put_snapshot(snapshot(200, email="new@example.com"))
    # Then it lands
    assert outcome is WriteOutcome.WRITTEN
    record = mirror_table().get_record(SUB)
    assert record is not None
    assert record.to_snapshot().attributes == {"email": "new@example.com"}


def test_older_snapshot_arriving_late_is_ignored() -> None:
    # Given a newer stored snapshot
    mirror_table().put_snapshot(snapshot(200, email="new@example.com"))
    # When an older one arrives late
    outcome = mirror_table().put_snapshot(snapshot(100, email="old@example.com"))
    # Then the newer one stays
    assert outcome is WriteOutcome.SKIPPED
    record = mirror_table().get_record(SUB)
    assert record is not None
    assert record.to_snapshot().attributes == {"email": "new@example.com"}
    assert int(record.observed_at) == 200


def test_duplicate_snapshot_is_a_no_op(raw_item: Any) -> None:
    # Given a stored snapshot
    mirror_table().put_snapshot(snapshot(100))
    before = raw_item(SUB)
    # When the very same snapshot is delivered again
    outcome = mirror_table().put_snapshot(snapshot(100))
    # Then nothing changes
    assert outcome is WriteOutcome.SKIPPED
    assert raw_item(SUB) == before


def test_tombstone_blocks_older_and_newer_snapshots(raw_item: Any) -> None:
    # Given a user deleted after a snapshot
    mirror_table().put_snapshot(snapshot(100))
    assert mirror_table().put_tombstone(SUB, observed_at=150, source="test") is WriteOutcome.WRITTEN
    # When late events arrive, stamped before and after the deletion
    late = [mirror_table().put_snapshot(snapshot(120)), mirror_table().put_snapshot(snapshot(10_000))]
    # Then the user is never resurrected, and no attribute survives in the tombstone
    assert late == [WriteOutcome.SKIPPED, WriteOutcome.SKIPPED]
    item = raw_item(SUB)
    assert item["deleted"]["BOOL"] is True
    assert "attributes" not in item and "username" not in item
    # And it expires after the default 30 days, in epoch seconds as DynamoDB's TTL reads them
    expected = time.time() + 30 * 86_400
    assert expected - 60 < int(item["expires_at"]["N"]) <= expected + 1


def test_tombstone_before_any_snapshot_blocks_the_late_create() -> None:
    # Given a deletion processed before the user's creation event
    mirror_table().put_tombstone(SUB, observed_at=50, source="test")
    # When the creation snapshot arrives
    outcome = mirror_table().put_snapshot(snapshot(40))
    # Then it does not land
    assert outcome is WriteOutcome.SKIPPED
    record = mirror_table().get_record(SUB)
    assert record is not None and record.is_tombstone


def test_second_tombstone_keeps_the_first(raw_item: Any) -> None:
    # Given a tombstone
    mirror_table().put_tombstone(SUB, observed_at=50, source="first")
    # When the deletion is delivered again
    outcome = mirror_table().put_tombstone(SUB, observed_at=60, source="second")
    # Then the first stays (its TTL is not extended)
    assert outcome is WriteOutcome.SKIPPED
    assert raw_item(SUB)["source"]["S"] == "first"


@pytest.mark.parametrize(
    ("allowlist", "expected"),
    [
        (None, {"email", "given_name", "custom:tenant"}),
        (frozenset({"email"}), {"email"}),
        (frozenset({"email", "custom:*"}), {"email", "custom:tenant"}),
    ],
)
def test_only_allow_listed_attributes_are_kept(allowlist: frozenset[str] | None, expected: set[str]) -> None:
    # Given Cognito attributes including internal ones
    raw = {
        "sub": SUB,
        "email": "jane@example.com",
        "given_name": "Jane",
        "custom:tenant": "acme",
        "cognito:user_status": "CONFIRMED",
        "cognito:email_alias": "jane@example.com",
    }
    # When filtered
    kept, dropped = filter_attributes(raw, allowlist)
    # Then only allow-listed names survive; sub and cognito:* never do
    assert set(kept) == expected
    assert dropped == []


def test_oversized_and_non_string_values_are_dropped_by_name() -> None:
    # Given a value longer than Cognito allows and a non-string value
    kept, dropped = filter_attributes({"email": "x" * 5000, "given_name": 7, "family_name": "Doe"}, None)
    # Then both are dropped and only their names are reported
    assert kept == {"family_name": "Doe"}
    assert sorted(dropped) == ["email", "given_name"]


def test_revive_replaces_only_a_tombstone_and_never_creates_or_overwrites_a_live_row() -> None:
    # Given no row
    # When the revive path runs, Then it writes nothing (a missing row is put_snapshot's job)
    assert mirror_table().revive_tombstone(snapshot(100)) is WriteOutcome.SKIPPED
    assert mirror_table().get_record(SUB) is None
    # Given a live row
    mirror_table().put_snapshot(snapshot(100, email="live@example.com"))
    # When the revive path runs with a newer snapshot, Then the live row is left alone
    assert mirror_table().revive_tombstone(snapshot(200, email="other@example.com")) is WriteOutcome.SKIPPED
    record = mirror_table().get_record(SUB)
    assert record is not None and record.to_snapshot().attributes == {"email": "live@example.com"}


def test_revive_refuses_an_engine_state_key() -> None:
    # Given a snapshot whose key is a reserved engine-state key
    reserved = UserSnapshot("#reconcile#pool", "x", {}, "CONFIRMED", True, 100, "test")
    # When it is revived, Then it is refused before any write
    with pytest.raises(ValueError, match="reserved"):
        mirror_table().revive_tombstone(reserved)


def test_a_write_that_times_out_is_a_mirror_unavailable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given DynamoDB that does not answer in time (botocore's timeout carries `response=None`)
    from botocore.exceptions import ReadTimeoutError

    from models.errors import TableUnavailableError

    def timed_out(**kwargs: Any) -> None:
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1:1")

    monkeypatch.setattr(mirror_table().client, "update_item", timed_out)
    # When a snapshot is written
    # Then the writer gets the one "dependency down" error, naming the cause, not an AttributeError
    with pytest.raises(TableUnavailableError, match="ReadTimeoutError"):
        mirror_table().put_snapshot(snapshot(100))
