"""User change events: stream record images → events (pure), and the stream handler end to end
against an in-process PutEvents stand-in. Every emitted event is validated against schemas/events/."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import ValidationError

from functions.common import event_publisher
from functions.common.user_events import event_id, user_event
from tests.support.fixtures import reset_process_state
from tests.support.helpers import load_event
from tests.support.metrics import emitted
from tests.support.user_events import (
    BUS,
    StubEvents,
    assert_valid_event,
    configure_bus,
    run_handler,
    stream_batch,
    stream_records,
)


def _event_of(event_id_: str, payload: str = "full") -> Any:
    (record,) = stream_records(event_id_)
    return user_event(record["dynamodb"].get("OldImage"), record["dynamodb"].get("NewImage"), payload=payload)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> StubEvents:
    """The handler's EventBridge client is an in-process stand-in; the bus is configured."""
    client = StubEvents()
    configure_bus(monkeypatch, client)
    return client


def test_a_new_row_is_a_user_created_event_with_the_profile_in_get_me_shape() -> None:
    # Given the INSERT of a confirmed user's first snapshot
    # When it is turned into an event
    event = _event_of("created")
    # Then it is a User Created carrying everything the row holds, versioned by observed_at
    assert event.detail_type == "User Created"
    detail = event.detail
    assert detail["version"] == 1764547200000000
    assert detail["writer"] == "post_confirmation"
    assert detail["username"] == "jane"
    assert detail["changes"] == sorted(detail["changes"])
    assert {"enabled", "status", "attributes.email", "attributes.custom:tenant"} <= set(detail["changes"])
    profile_fields = {"sub", "username", "attributes", "status", "enabled", "updated_at", "groups"}
    assert set(detail["profile"]) == profile_fields
    assert detail["profile"]["attributes"]["custom:tenant"] == "acme"
    # A trigger's row: its groups are unknown, not "no group"
    assert detail["profile"]["groups"] is None
    assert "groups" not in detail["changes"]
    assert "previous" not in detail


def test_a_sign_in_that_changed_nothing_but_observed_at_and_source_publishes_nothing() -> None:
    # Given a MODIFY whose images differ only in observed_at and source (PostAuthentication)
    # When it is turned into an event
    # Then there is none
    assert _event_of("signin") is None


def test_an_attribute_change_is_a_user_updated_with_only_the_changed_names_and_their_previous_values() -> (
    None
):
    # Given a MODIFY where custom:tenant changed and family_name appeared
    event = _event_of("updated")
    # Then the update names exactly those, with their previous values (null: there was none)
    assert event.detail_type == "User Updated"
    assert event.detail["changes"] == ["attributes.custom:tenant", "attributes.family_name"]
    assert event.detail["previous"] == {"attributes": {"custom:tenant": "acme", "family_name": None}}
    assert event.detail["profile"]["attributes"]["custom:tenant"] == "globex"


def test_a_disable_is_a_user_updated_whose_changes_include_enabled() -> None:
    event = _event_of("disabled")
    assert event.detail_type == "User Updated"
    assert event.detail["changes"] == ["enabled"]
    assert event.detail["previous"] == {"enabled": True}
    assert event.detail["profile"]["enabled"] is False


@pytest.mark.parametrize("payload", ["full", "names"])
def test_a_tombstone_over_a_live_row_is_one_user_deleted_naming_only_the_sub(payload: str) -> None:
    # Given a live row replaced by a tombstone
    event = _event_of("deleted", payload=payload)
    # Then in either payload mode a User Deleted carries who (the sub), when and by whom, nothing
    # personal: not the username the archive would keep after the user is gone
    assert event.detail_type == "User Deleted"
    assert set(event.detail) == {"id", "sub", "version", "writer", "changes"}
    assert event.detail["changes"] == []
    assert "jane" not in json.dumps(event.detail)


@pytest.mark.parametrize("case", ["deleted_again", "tombstone_expired", "reserved_state"])
def test_tombstone_rewrites_ttl_expiry_and_reserved_state_rows_publish_nothing(case: str) -> None:
    assert _event_of(case) is None


@pytest.mark.parametrize("case", ["reserved_malformed_new", "reserved_malformed_old"])
def test_a_reserved_row_publishes_nothing_even_when_it_holds_no_user_fields(case: str) -> None:
    # Given a reserved '#' row without observed_at/source, in the new image only or the old image only
    # When it is turned into an event
    # Then it is skipped before any user field is read: no event and no error
    assert _event_of(case) is None


@pytest.mark.parametrize("case", ["live_row_removed", "live_row_expired"])
def test_a_removed_live_row_publishes_nothing(case: str) -> None:
    # Given a live row removed by hand or by a TTL set on it (not a Cognito deletion: reads heal it)
    # When it is turned into an event
    # Then there is none: consumers must not delete a user who still exists
    assert _event_of(case) is None


def test_a_repaired_wrong_tombstone_is_a_user_created() -> None:
    # Given a tombstone replaced by a live row (the evidence-based repair path)
    event = _event_of("repaired")
    # Then consumers see the user created again, with the whole profile
    assert event.detail_type == "User Created"
    assert "previous" not in event.detail
    assert event.detail["profile"]["username"] == "jane"


@pytest.mark.parametrize("case", ["created", "updated"])
def test_names_payload_carries_no_value_not_even_the_username(case: str) -> None:
    # Given a creation or an update in names mode
    event = _event_of(case, payload="names")
    # Then only names and identifiers travel: no profile, no previous values, no username
    assert set(event.detail) == {"id", "sub", "version", "writer", "changes"}
    assert "jane" not in json.dumps(event.detail)


def test_the_v2_schemas_refuse_a_username_in_a_deletion_and_accept_events_without_one() -> None:
    # Given a names-mode update and a deletion as the handler emits them
    update, deletion = _event_of("updated", payload="names"), _event_of("deleted")
    as_published = [
        {"source": "cognito-attribute-mirror", "detail-type": event.detail_type, "detail": event.detail}
        for event in (update, deletion)
    ]
    # Then both are valid without any username
    for event in as_published:
        assert_valid_event(event)
    # and a deletion that names the user by username is refused by its schema
    with pytest.raises(ValidationError, match="username"):
        assert_valid_event({**as_published[1], "detail": {**deletion.detail, "username": "jane"}})


def test_the_event_id_is_deterministic_from_sub_version_and_type() -> None:
    # Given the same record turned into an event twice
    first, again = _event_of("updated"), _event_of("updated")
    # Then both carry the same id, which differs for another type or version
    assert first.detail["id"] == again.detail["id"] == event_id(first.sub, first.version, "User Updated")
    assert event_id(first.sub, first.version, "User Created") != first.detail["id"]
    assert event_id(first.sub, first.version + 1, "User Updated") != first.detail["id"]


# --- membership: the row's groups, versioned apart from its profile ---------------------------


def _published(event: Any) -> dict[str, Any]:
    published = {
        "source": "cognito-attribute-mirror",
        "detail-type": event.detail_type,
        "detail": event.detail,
    }
    assert_valid_event(published)
    return published


def test_the_first_observation_of_the_groups_is_an_update_naming_groups() -> None:
    # Given a row whose groups were unknown, now observed: no group
    event = _event_of("groups_observed")
    # Then a User Updated naming groups, unknown before ([] is "no group", null "unknown"), valid,
    # versioned by the membership's observation
    assert event.detail_type == "User Updated"
    assert event.detail["changes"] == ["groups"]
    assert event.detail["previous"] == {"groups": None}
    assert event.detail["profile"]["groups"] == []
    assert event.detail["version"] == 1764547300000000
    _published(event)


@pytest.mark.parametrize(
    ("case", "before", "after"),
    [("groups_added", ["ops"], ["admin", "ops"]), ("groups_removed", ["admin", "ops"], ["ops"])],
)
def test_an_added_or_removed_group_is_an_update_with_the_previous_groups(
    case: str, before: list[str], after: list[str]
) -> None:
    # Given a membership write that added or removed a group
    event = _event_of(case)
    # Then the update names groups only, with the new and the previous groups (sorted)
    assert (event.detail_type, event.detail["changes"]) == ("User Updated", ["groups"])
    assert event.detail["previous"] == {"groups": before}
    assert event.detail["profile"]["groups"] == after
    _published(event)


def test_a_membership_change_in_names_mode_names_groups_and_no_group() -> None:
    # Given a removal from admin published in names mode
    event = _event_of("groups_removed", payload="names")
    # Then only the change's name travels: neither the groups nor the previous ones
    assert set(event.detail) == {"id", "sub", "version", "writer", "changes"}
    assert event.detail["changes"] == ["groups"]
    assert "admin" not in json.dumps(event.detail)
    _published(event)


@pytest.mark.parametrize("case", ["groups_reobserved", "signin_with_groups"])
def test_the_same_membership_observed_again_or_a_sign_in_publishes_nothing(case: str) -> None:
    # Given a write that moved only groups_observed_at, or only the profile's observed_at
    # When it is turned into an event / Then there is none
    assert _event_of(case) is None


def test_a_removal_observed_before_the_profiles_newest_observation_still_orders_after_it() -> None:
    # Given a removal whose observation is older than the profile's newest one (1764547500000000,
    # the version the row's previous state published)
    event = _event_of("groups_removed_late")
    # Then its version is just above that state's, so a consumer keeping the highest version per
    # user applies it, and its id is its own
    assert event.detail["version"] == 1764547500000001
    assert event.detail["id"] != event_id(event.sub, 1764547500000000, "User Updated")
    assert event.detail["changes"] == ["groups"]


def test_a_deletion_stamped_before_the_rows_newest_observation_still_orders_after_it() -> None:
    # Given a live row observed at t, and a tombstone written over it with an older time (a
    # deletion lands whatever its time)
    (record,) = stream_records("groups_removed_late")
    old = record["dynamodb"]["NewImage"]
    tombstone = {
        "sub": old["sub"],
        "observed_at": {"N": "1764547000000000"},
        "source": {"S": "attribute_sync"},
        "deleted": {"BOOL": True},
    }
    # When it is turned into an event
    event = user_event(old, tombstone)
    # Then the deletion's version is above the live row's
    assert event is not None and event.detail_type == "User Deleted"
    assert event.detail["version"] == 1764547500000001


def test_the_handler_publishes_one_schema_valid_event_per_real_change(stub: StubEvents) -> None:
    # Given a stream batch of every kind of record the mirror writes (no malformed one)
    batch = stream_batch(
        "created", "signin", "updated", "disabled", "deleted", "deleted_again", "repaired",
        "tombstone_expired", "reserved_state", "backfilled",
    )  # fmt: skip
    # When the handler runs
    result = run_handler(batch)
    # Then nothing failed, and exactly the real changes were published, in order, on the bus
    assert result == {"batchItemFailures": []}
    events = stub.events()
    assert [event["detail-type"] for event in events] == [
        "User Created", "User Updated", "User Updated", "User Deleted", "User Created", "User Created",
    ]  # fmt: skip
    assert all(
        entry["EventBusName"] == BUS and entry["Source"] == "cognito-attribute-mirror"
        for entry in stub.accepted
    )
    for event in events:
        assert_valid_event(event)


def test_the_handler_in_names_mode_publishes_schema_valid_events_without_values(
    stub: StubEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIRROR_EVENT_PAYLOAD", "names")
    reset_process_state()
    run_handler(stream_batch("created", "updated", "deleted"))
    for event in stub.events():
        assert_valid_event(event)
        assert "profile" not in event["detail"] and "previous" not in event["detail"]
    assert "jane" not in json.dumps(stub.accepted)


def test_reserved_rows_and_removed_live_rows_never_block_the_stream(
    stub: StubEvents, log_output: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a batch where malformed reserved rows and removed live rows sit between real changes
    batch = stream_batch(
        "created", "reserved_malformed_new", "reserved_malformed_old", "live_row_removed",
        "live_row_expired", "updated",
    )  # fmt: skip
    # When the handler runs
    result = run_handler(batch)
    # Then no record fails, only the real changes are published
    assert result == {"batchItemFailures": []}
    assert [event["detail-type"] for event in stub.events()] == ["User Created", "User Updated"]
    # and each removed live row is counted and logged with how it went (TTL or not), no value
    logs = [json.loads(line) for line in log_output().splitlines()]
    removed = [line for line in logs if line.get("message") == "events: live row removed"]
    assert [line["removed_by"] for line in removed] == ["other", "ttl"]
    assert emitted(capsys.readouterr().out)["UserEventLiveRowRemoved"] == 2
    assert "jane" not in log_output()


def test_a_record_from_the_local_stacks_stream_plugin_is_published_like_one_from_lambda(
    stub: StubEvents,
) -> None:
    # Given a record as serverless-offline-dynamodb-streams delivers it from DynamoDB Local
    # (ApproximateCreationDateTime an ISO string, awsRegion "ddblocal", no stream ARN)
    batch = load_event("dynamodb_stream_local")
    # When the handler runs
    result = run_handler(batch)
    # Then its event is published and nothing fails
    assert result == {"batchItemFailures": []}
    (event,) = stub.events()
    assert event["detail-type"] == "User Updated"
    assert_valid_event(event)


def test_a_malformed_record_fails_alone_as_a_batch_item_failure(stub: StubEvents) -> None:
    # Given a batch with a record the mirror could not have written between good ones
    batch = stream_batch("created", "malformed", "updated")
    # When the handler runs
    result = run_handler(batch)
    # Then only that record is reported; the others are published
    (malformed,) = stream_records("malformed")
    assert result == {"batchItemFailures": [{"itemIdentifier": malformed["dynamodb"]["SequenceNumber"]}]}
    assert [event["detail-type"] for event in stub.events()] == ["User Created", "User Updated"]


def test_put_events_calls_hold_at_most_ten_entries_and_256_kb() -> None:
    # Given 25 small entries and 3 entries of 100 KB
    small = [{"Source": "s", "DetailType": "d", "Detail": "{}"}] * 25
    large = [{"Source": "s", "DetailType": "d", "Detail": json.dumps({"x": "a" * 100_000})}] * 3
    # When they are grouped into calls
    groups = event_publisher.batches(small + large)
    # Then no call exceeds 10 entries or 256 KB, and order is kept
    assert [index for group in groups for index in group] == list(range(28))
    for group in groups:
        entries = [(small + large)[i] for i in group]
        assert len(entries) <= 10
        assert sum(event_publisher.entry_size(entry) for entry in entries) <= 256 * 1024


def test_an_event_too_large_for_eventbridge_is_published_without_values(stub: StubEvents) -> None:
    # Given a user whose attributes make the full event exceed 256 KB
    (record,) = stream_records("created")
    attributes = record["dynamodb"]["NewImage"]["attributes"]["M"]
    for index in range(150):
        attributes[f"custom:a{index}"] = {"S": "x" * 2048}
    # When the handler runs
    result = run_handler({"Records": [record]})
    # Then it is still published, in names form, and valid
    assert result == {"batchItemFailures": []}
    (event,) = stub.events()
    assert "profile" not in event["detail"]
    assert_valid_event(event)


def test_the_handler_without_a_bus_fails_the_whole_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    from models.settings import ConfigurationError

    reset_process_state()
    with pytest.raises(ConfigurationError, match="MIRROR_EVENT_BUS"):
        run_handler(stream_batch("created"))


def test_an_unknown_payload_mode_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from models.settings import ConfigurationError, load_settings

    monkeypatch.setenv("MIRROR_EVENT_PAYLOAD", "everything")
    with pytest.raises(ConfigurationError, match="MIRROR_EVENT_PAYLOAD must be one of full, names"):
        load_settings()
