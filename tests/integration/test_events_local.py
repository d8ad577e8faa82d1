"""User change events for real on the local stack: mirror write → table stream → userEvents →
EventBridge stand-in → the example consumer's userChanges → its replica table (examples/consumer)."""

from __future__ import annotations

import time
from collections.abc import Callable

from scripts.scenario import ReceivedEvent, Scenario

# Warm ~1 s here; the first event of a run also starts userEvents' and userChanges' Python.
LAG_LIMIT_S = 20.0


def event_after(scenario: Scenario, sub: str, written_at: float) -> ReceivedEvent:
    version = int((scenario.stored_row(sub) or {})["observed_at"])
    received = scenario.wait_for_event(sub, version, written_at)
    assert received is not None, "no event reached the consumer"
    return received


def test_an_admin_tenant_change_reaches_the_consumer_as_user_updated_with_old_and_new_values(
    scenario: Scenario, unique: Callable[[str], str]
) -> None:
    # Given a mirrored user with custom:tenant = acme
    name = unique("uma")
    sub = scenario.sign_up(name, email=f"{name}@example.com", custom__tenant="acme")
    # When an administrator changes custom:tenant and the CloudTrail event reaches attributeSync
    scenario.update_attributes(name, custom__tenant="globex")
    assert scenario.deliver_cloudtrail("AdminUpdateUserAttributes", username=name, sub=sub) == {
        "batchItemFailures": []
    }
    received = event_after(scenario, sub, time.time())
    # Then the consumer received "User Updated" naming the change, with both values, within seconds
    item = received.item
    assert item["detail_type"] == "User Updated"
    assert item["changes"] == ["attributes.custom:tenant"]
    assert item["previous"] == {"attributes": {"custom:tenant": "acme"}}
    assert item["attributes"]["custom:tenant"] == "globex"
    assert item["writer"] == "attribute_sync"
    assert received.lag_s < LAG_LIMIT_S


def test_a_deletion_reaches_the_consumer_as_user_deleted_without_values(
    scenario: Scenario, unique: Callable[[str], str]
) -> None:
    # Given a mirrored user
    name = unique("vic")
    sub = scenario.sign_up(name, email=f"{name}@example.com", given_name="Vic")
    # When the user is deleted and the CloudTrail event reaches attributeSync (a tombstone)
    scenario.delete_user(name)
    scenario.deliver_cloudtrail("AdminDeleteUser", username=name, sub=sub)
    received = event_after(scenario, sub, time.time())
    # Then the consumer's item says "User Deleted" and keeps no attribute value
    assert received.item["detail_type"] == "User Deleted"
    assert received.item["deleted"] is True
    assert "attributes" not in received.item
    assert received.lag_s < LAG_LIMIT_S


def test_the_consumer_rule_mutes_the_backfill_writes(
    scenario: Scenario, unique: Callable[[str], str]
) -> None:
    # Given a user the triggers never saw
    quiet = unique("wes")
    quiet_sub = scenario.admin_create(quiet, email=f"{quiet}@example.com")
    # When the backfill mirrors it (writer backfill), then a later live write's event has arrived
    run = scenario.backfill()
    assert run.returncode == 0, run.stderr[-400:]
    loud = unique("xia")
    loud_sub = scenario.sign_up(loud, email=f"{loud}@example.com")
    event_after(scenario, loud_sub, time.time())
    time.sleep(1.0)  # the stream is in order; the bus delivers each event on its own: a margin
    # Then the row is the backfill's, and the consumer's rule (writer anything-but backfill) kept
    # its event out
    assert (scenario.stored_row(quiet_sub) or {}).get("source") == "backfill"
    assert scenario.replica_row(quiet_sub) is None
