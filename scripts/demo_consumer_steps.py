"""Steps 8-10 of `make demo`: what other services get. The example consumer reads through the
cognito_mirror library, user change events reach it, and the user directory answers admins and
tenant admins."""

from __future__ import annotations

import json
import time
from typing import Any

from scripts.demo_mirror_steps import BACKFILLED
from scripts.demo_transcript import DemoState, Transcript, json_or_empty, status_line
from scripts.scenario import EVENT_TIMEOUT_S, ReceivedEvent, Scenario

# "Within seconds": ~1 s warm on this machine; the bound leaves room for a loaded machine.
EVENT_LAG_LIMIT_S = 10.0


def step_8_consumer(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(8, "Your own service: examples/consumer reads the mirror through the cognito_mirror library")
    t.say(f"GET /hello on the consumer ({s.info.consumer_url}): a second serverless-offline whose Python")
    t.say("has only the built cognito_mirror wheel installed; Powertools resolver + profile_middleware")
    hello = s.get("/hello", state.tokens["alice"], s.info.consumer_url)
    t.say(f"alice -> {status_line(hello)}")
    body = hello.json() if hello.ok else {}
    t.check(
        "the consumer greets alice by given_name and tenant",
        hello.status_code == 200
        and body.get("given_name") == "Alice"
        and body.get("tenant") == "looking-glass",
        hello.text[:200],
    )
    anonymous = s.get("/hello", None, s.info.consumer_url)
    t.say(f"no token -> {status_line(anonymous)} (the HTTP API's JWT authorizer)")
    t.check("without a token the consumer answers 401", anonymous.status_code == 401)

    sub = s.admin_create("hank", email="hank@example.com", given_name="Hank", custom__tenant="repairs")
    token = s.sign_in("hank")
    s.drop_row(sub)
    t.say("hank signs in, then his row is removed (a write the mirror missed)")
    healed = s.get("/hello", token, s.info.consumer_url)
    row = s.stored_row(sub) or {}
    t.say(f"hank -> {status_line(healed)}; the row is back, source = {row.get('source')}")
    t.check(
        "a miss heals through the mirror's repair function: 200, row rewritten",
        healed.status_code == 200 and healed.json().get("given_name") == "Hank" and bool(row),
        healed.text[:200],
    )

    gone = s.sign_up("gina", email="gina@example.com", given_name="Gina")
    gina_token = s.sign_in("gina")
    s.delete_user("gina")
    s.deliver_cloudtrail("AdminDeleteUser", username="gina", sub=gone)
    deleted = s.get("/hello", gina_token, s.info.consumer_url)
    t.say(f"gina deleted (tombstone), her token still valid -> {status_line(deleted)}")
    t.check(
        "a deleted user's valid token gets 404 JSON, not 500",
        deleted.status_code == 404 and "message" in json_or_empty(deleted),
        deleted.text[:200],
    )

    s.disable_user("bob")
    answer = s.deliver_cloudtrail("AdminDisableUser", username="bob", sub=state.subs.get("bob", ""))
    disabled = s.get("/hello", state.tokens["bob"], s.info.consumer_url)
    t.say(f"AdminDisableUser 'bob' -> attributeSync {json.dumps(answer)}; bob -> {status_line(disabled)}")
    t.check(
        "a disabled user gets 403 JSON",
        disabled.status_code == 403 and "message" in json_or_empty(disabled),
        disabled.text[:200],
    )


def _event_arrived(s: Scenario, t: Transcript, sub: str, written_at: float) -> ReceivedEvent | None:
    version = int((s.stored_row(sub) or {}).get("observed_at", 0))
    received = s.wait_for_event(sub, version, written_at)
    if received is None:
        t.say(f"no event reached the consumer within {EVENT_TIMEOUT_S:.0f} s")
    else:
        t.say(
            f"the consumer received {received.item['detail_type']!r} {received.lag_s:.2f} s after the write"
        )
        t.show("its replica item", {k: v for k, v in received.item.items() if k != "received_at_ms"})
    return received


def step_9_events(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(9, "User change events: the mirror's table stream -> userEvents -> EventBridge -> your service")
    t.say("serverless-offline-dynamodb-streams runs userEvents on each write of the mirror table; it")
    t.say(f"publishes on the bus {s.info.event_bus} (moto's EventBridge), where the consumer's rule")
    t.say("(source cognito-attribute-mirror, writer anything-but backfill) feeds its userChanges function")
    t.say(f"(a queue and a relay): a replica table ({s.info.replica_table}), last writer wins by version")
    s.update_attributes("alice", custom__tenant="red-queen")
    s.deliver_cloudtrail("AdminUpdateUserAttributes", username="alice", sub=state.subs["alice"])
    written_at = time.time()
    t.say("AdminUpdateUserAttributes: custom:tenant = red-queen; CloudTrail event -> attributeSync")
    updated = _event_arrived(s, t, state.subs["alice"], written_at)
    item = updated.item if updated else {}
    t.check(
        "the consumer received 'User Updated' with changes [attributes.custom:tenant], old and new values",
        item.get("detail_type") == "User Updated"
        and item.get("changes") == ["attributes.custom:tenant"]
        and item.get("previous", {}).get("attributes") == {"custom:tenant": "looking-glass"}
        and item.get("attributes", {}).get("custom:tenant") == "red-queen",
        f"got {item.get('detail_type')} {item.get('changes')}",
    )
    t.check("within seconds", updated is not None and updated.lag_s < EVENT_LAG_LIMIT_S)

    sub = s.sign_up("ivy", email="ivy@example.com", given_name="Ivy")
    s.delete_user("ivy")
    s.deliver_cloudtrail("AdminDeleteUser", username="ivy", sub=sub)
    written_at = time.time()
    t.say("ivy signs up, then AdminDeleteUser 'ivy'; CloudTrail event -> attributeSync -> tombstone")
    deleted = _event_arrived(s, t, sub, written_at)
    item = deleted.item if deleted else {}
    t.check(
        "the consumer received 'User Deleted' (no attribute values)",
        item.get("detail_type") == "User Deleted"
        and item.get("deleted") is True
        and "attributes" not in item,
        f"got {item.get('detail_type')}",
    )
    muted = [name for name in BACKFILLED if s.replica_row(state.subs.get(name, "")) is None]
    t.say(
        f"the backfill's 'User Created' events (writer backfill) of {', '.join(BACKFILLED)}: rule muted them"
    )
    t.check(
        "the rule's anything-but kept the backfill's events out", muted == list(BACKFILLED), f"muted {muted}"
    )


def _subs(response: Any) -> list[str]:
    return [user.get("sub") for user in json_or_empty(response).get("users", [])]


def step_10_directory(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(
        10,
        "The user directory: an admin finds a user by e-mail; a tenant admin lists their own tenant"
        " only, until disabled",
    )
    admin_token = s.sign_in("root")
    found = s.get("/users", admin_token, params={"email": "ALICE@example.com"})
    t.say(f"admin 'root': GET /users?email=ALICE@example.com -> {found.status_code}")
    t.check(
        "the admin finds alice by e-mail in another case",
        found.status_code == 200 and _subs(found) == [state.subs["alice"]],
        found.text[:200],
    )
    hatter = s.sign_up("hatter", email="hatter@example.com", custom__tenant="tea-party")
    dormouse = s.sign_up("dormouse", email="dormouse@example.com", custom__tenant="tea-party")
    s.make_tenant_admin("hatter")
    token = s.sign_in("hatter")
    own = s.get("/users", token, params={"attribute": "custom:tenant", "value": "tea-party"})
    t.say(
        f"tenant admin 'hatter' (tea-party): GET /users?attribute=custom:tenant&value=tea-party"
        f" -> {own.status_code}"
    )
    t.show("users listed", _subs(own))
    t.check(
        "the tenant admin lists tea-party: hatter and dormouse, nobody else",
        own.status_code == 200 and sorted(_subs(own)) == sorted([hatter, dormouse]),
        own.text[:200],
    )
    other = s.get("/users", token, params={"attribute": "custom:tenant", "value": "looking-glass"})
    t.say(f"... and value=looking-glass (alice's tenant) -> {other.status_code} {other.text[:80]}")
    t.check("another tenant is refused with 403", other.status_code == 403, other.text[:200])
    # A privilege follows the mirror: disabled in Cognito, hatter keeps a valid token but lists nothing.
    started = time.monotonic()
    s.disable_user("hatter")
    s.deliver_cloudtrail("AdminDisableUser", username="hatter", sub=hatter)
    refused = s.get("/users", token, params={"attribute": "custom:tenant", "value": "tea-party"})
    seconds = time.monotonic() - started
    t.say(
        f"hatter disabled in Cognito (AdminDisableUser -> attributeSync); the same token -> "
        f"{refused.status_code} {refused.text[:60]}, {seconds:.2f} s after the disable"
    )
    t.check(
        "a disabled tenant admin's still-valid token lists nothing (403)",
        refused.status_code == 403,
        refused.text[:200],
    )


CONSUMER_STEPS = (step_8_consumer, step_9_events, step_10_directory)
