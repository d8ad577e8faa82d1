"""`make demo`: the mirror's main job, end to end, on the local stack, as a readable transcript.

    python -m scripts.demo     # starts the stack, runs steps 1-9, stops it; exit 0 only if all checks pass

Ports come from the same variables as `make dev` (MIRROR_DYNAMODB_PORT, ...), so both cannot run at
once on the defaults; set other ports for one of them.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scripts.dynamodb_local import LocalServiceError
from scripts.scenario import EVENT_TIMEOUT_S, ReceivedEvent, Scenario, token_claims
from scripts.stack import LocalStack
from scripts.stack_info import STATE_DIR

LATENCY_SAMPLES = 50
LATENCY_WARMUP = 3
# "Within seconds": ~1 s warm on this machine; the bound leaves room for a loaded machine.
EVENT_LAG_LIMIT_S = 10.0
ALICE = {"email": "alice@example.com", "given_name": "Alice", "family_name": "Liddell"}


class Transcript:
    """Numbered steps, indented narration, and ✓/✗ checks that decide the exit code."""

    def __init__(self, out: Callable[[str], None] = print) -> None:
        self.out = out
        self.passed = 0
        self.failed: list[str] = []

    def step(self, number: int, title: str) -> None:
        self.out(f"\n[{number}] {title}")

    def say(self, text: str) -> None:
        self.out(f"    {text}")

    def show(self, label: str, value: Any) -> None:
        text = json.dumps(value, indent=2, sort_keys=True, default=str)
        self.say(f"{label}:")
        for line in text.splitlines():
            self.say(f"  {line}")

    def check(self, label: str, ok: bool, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            self.out(f"  ✓ {label}")
        else:
            self.failed.append(label)
            self.out(f"  ✗ {label}" + (f": {detail}" if detail else ""))
        return ok


@dataclass
class DemoState:
    tokens: dict[str, str] = field(default_factory=dict)
    subs: dict[str, str] = field(default_factory=dict)


def step_1_sign_up(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(1, "Sign up and confirm: the PostConfirmation trigger mirrors the user")
    sub = s.sign_up("alice", **ALICE, custom__tenant="wonderland")
    state.subs["alice"] = sub
    t.say(f"SignUp 'alice' with {', '.join(ALICE)} and custom:tenant; AdminConfirmSignUp -> sub {sub}")
    row = s.stored_row(sub)
    t.show("stored row in the mirror table", row)
    attributes = (row or {}).get("attributes", {})
    t.check(
        "the row was written by the PostConfirmation trigger",
        (row or {}).get("source") == "post_confirmation",
    )
    t.check(
        "the row holds email, given_name, family_name and custom:tenant",
        all(attributes.get(k) == v for k, v in ALICE.items())
        and attributes.get("custom:tenant") == "wonderland",
        f"got {sorted(attributes)}",
    )


def step_2_sign_in(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(2, "Sign in: the access token lacks the profile; GET /me returns it from the mirror")
    token = s.sign_in("alice")
    state.tokens["alice"] = token
    claims = token_claims(token)
    t.say(f"access token claims: {', '.join(sorted(claims))}")
    t.check("the access token has no email and no given_name", not {"email", "given_name"} & set(claims))
    response = s.get("/me", token)
    t.say(f"GET /me -> {response.status_code}")
    body = response.json() if response.ok else {}
    t.show("body", body)
    attributes = body.get("attributes", {})
    t.check("GET /me answers 200", response.status_code == 200, response.text[:200])
    t.check(
        "GET /me carries email, given_name, family_name and custom:tenant",
        all(attributes.get(k) == v for k, v in ALICE.items())
        and attributes.get("custom:tenant") == "wonderland",
    )


def step_3_attribute_sync(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(3, "AdminUpdateUserAttributes -> CloudTrail event -> attribute_sync -> GET /me shows the change")
    s.update_attributes("alice", custom__tenant="looking-glass")
    t.say("AdminUpdateUserAttributes: custom:tenant = looking-glass")
    t.say("CloudTrail/EventBridge has no local stand-in: the demo delivers the CloudTrail-shaped event,")
    t.say("wrapped as EventBridge would send it through SQS, to attributeSync through the Lambda API.")
    answer = s.deliver_cloudtrail("AdminUpdateUserAttributes", username="alice", sub=state.subs["alice"])
    t.say(f"attributeSync answered {json.dumps(answer)}")
    t.check("attributeSync reports no failed record", answer == {"batchItemFailures": []})
    response = s.get("/me", state.tokens["alice"])
    tenant = response.json().get("attributes", {}).get("custom:tenant") if response.ok else None
    t.say(f"GET /me -> {response.status_code}, custom:tenant = {tenant}")
    t.check("GET /me shows custom:tenant = looking-glass", tenant == "looking-glass")


def step_4_admin_created(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(4, "An admin-created user (no PostConfirmation) signs in: GET /me works")
    sub = s.admin_create("bob", email="bob@example.com", given_name="Bob", custom__tenant="builders")
    state.subs["bob"] = sub
    t.say(f"AdminCreateUser 'bob' with a permanent password -> sub {sub}")
    t.check("no mirror row before the first sign-in", s.stored_row(sub) is None)
    token = s.sign_in("bob")
    state.tokens["bob"] = token
    row = s.stored_row(sub) or {}
    t.say(f"sign-in -> PostAuthentication -> mirror row source = {row.get('source')}")
    response = s.get("/me", token)
    body = response.json() if response.ok else {}
    t.say(f"GET /me -> {response.status_code}, email = {body.get('attributes', {}).get('email')}")
    t.check(
        "GET /me answers bob's profile",
        response.status_code == 200 and body.get("attributes", {}).get("email") == "bob@example.com",
        response.text[:200],
    )


BACKFILLED = ("carol", "dave", "erin")


def _tail(run: subprocess.CompletedProcess[str]) -> str:
    return (run.stdout.strip() or run.stderr.strip())[-400:]


def step_5_backfill(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(5, "Users the triggers never saw -> python -m functions.backfill fills them; --verify: no drift")
    subs = {
        name: s.admin_create(name, email=f"{name}@example.com", custom__tenant="imported")
        for name in BACKFILLED
    }
    state.subs.update(subs)
    t.say(f"AdminCreateUser {', '.join(BACKFILLED)}, never signed in: no trigger ran for them")
    t.check("none of them is in the mirror", all(s.stored_row(sub) is None for sub in subs.values()))
    run = s.backfill()
    t.say(f"python -m functions.backfill --user-pool-id {s.info.user_pool_id} --table {s.info.table} --json")
    t.say(f"  exit {run.returncode}; {_tail(run)}")
    t.check("backfill exits 0", run.returncode == 0)
    t.check("all of them are mirrored now", all(s.stored_row(sub) is not None for sub in subs.values()))
    verify = s.backfill("--verify")
    t.say(f"... --verify -> exit {verify.returncode}; {_tail(verify)}")
    t.check("--verify reports no drift (exit 0)", verify.returncode == 0)


def step_6_delete(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(6, "Delete a user -> sync -> tombstone; an admin's GET /users/{sub} answers 404")
    s.admin_create("root", email="root@example.com")
    s.make_admin("root")
    admin_token = s.sign_in("root")
    sub = s.sign_up("frank", email="frank@example.com", given_name="Frank")
    before = s.get(f"/users/{sub}", admin_token)
    t.say(f"admin 'root' (group admin): GET /users/{sub} -> {before.status_code}")
    t.check(
        "the admin reads frank's profile before the deletion", before.status_code == 200, before.text[:200]
    )
    s.delete_user("frank")
    answer = s.deliver_cloudtrail("AdminDeleteUser", username="frank", sub=sub)
    t.say(f"AdminDeleteUser 'frank'; CloudTrail event -> attributeSync answered {json.dumps(answer)}")
    row = s.stored_row(sub) or {}
    t.show("stored row", {k: row.get(k) for k in ("sub", "deleted", "expires_at", "source")})
    t.check("the row is a tombstone", row.get("deleted") is True)
    after = s.get(f"/users/{sub}", admin_token)
    t.say(f"GET /users/{sub} -> {after.status_code} {after.text[:80]}")
    t.check("GET /users/{sub} answers 404", after.status_code == 404)


def _median_ms(call: Callable[[], object]) -> float:
    for _ in range(LATENCY_WARMUP):
        call()
    samples = []
    for _ in range(LATENCY_SAMPLES):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def step_7_latency(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(7, f"Latency: median of {LATENCY_SAMPLES} GET /me from the mirror vs Cognito GetUser")
    token = state.tokens["alice"]

    def from_mirror() -> None:
        s.get("/me", token).raise_for_status()

    def from_cognito() -> None:
        s.profile_via_get_user(token)

    def http_floor() -> None:
        s.get("/me", None)  # the authorizer's 401: HTTP API cost without the Lambda

    def get_item() -> None:
        s.stored_row(state.subs["alice"])

    mirror_ms, cognito_ms = _median_ms(from_mirror), _median_ms(from_cognito)
    floor_ms, item_ms = _median_ms(http_floor), _median_ms(get_item)
    t.say(f"GET /me over HTTP (serverless-offline, Lambda, DynamoDB Local): median {mirror_ms:.1f} ms")
    t.say(
        f"same profile from Cognito GetUser with the access token (cognito-local): median {cognito_ms:.1f} ms"
    )
    t.say(f"parts of the mirror path: the HTTP API alone (401, no Lambda) {floor_ms:.1f} ms; one DynamoDB")
    t.say(f"  Local GetItem {item_ms:.1f} ms; the rest is serverless-offline's Python runner (one process")
    t.say("  per function, fed JSON over a pipe) and the handler itself")
    t.say("Local stand-ins on this machine, in-memory cache off: not AWS figures. On AWS, GetUser adds a")
    t.say("network round trip per request and shares a 120 RPS account quota; the mirror read does neither.")
    mirrored = s.get("/me", token).json()["attributes"]
    from_get_user = s.profile_via_get_user(token)["attributes"]
    t.check(
        "the mirror serves the same attribute values as GetUser",
        bool(mirrored) and all(from_get_user.get(name) == value for name, value in mirrored.items()),
    )


def _answer(response: Any) -> str:
    return f"{response.status_code} {response.text.strip()[:120]}"


def step_8_consumer(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(8, "Your own service: examples/consumer reads the mirror through the cognito_mirror library")
    t.say(f"GET /hello on the consumer ({s.info.consumer_url}): a second serverless-offline whose Python")
    t.say("has only the built cognito_mirror wheel installed; Powertools resolver + profile_middleware")
    hello = s.get("/hello", state.tokens["alice"], s.info.consumer_url)
    t.say(f"alice -> {_answer(hello)}")
    body = hello.json() if hello.ok else {}
    t.check(
        "the consumer greets alice by given_name and tenant",
        hello.status_code == 200
        and body.get("given_name") == "Alice"
        and body.get("tenant") == "looking-glass",
        hello.text[:200],
    )
    anonymous = s.get("/hello", None, s.info.consumer_url)
    t.say(f"no token -> {_answer(anonymous)} (the HTTP API's JWT authorizer)")
    t.check("without a token the consumer answers 401", anonymous.status_code == 401)

    sub = s.admin_create("hank", email="hank@example.com", given_name="Hank", custom__tenant="repairs")
    token = s.sign_in("hank")
    s.drop_row(sub)
    t.say("hank signs in, then his row is removed (a write the mirror missed)")
    healed = s.get("/hello", token, s.info.consumer_url)
    row = s.stored_row(sub) or {}
    t.say(f"hank -> {_answer(healed)}; the row is back, source = {row.get('source')}")
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
    t.say(f"gina deleted (tombstone), her token still valid -> {_answer(deleted)}")
    t.check(
        "a deleted user's valid token gets 404 JSON, not 500",
        deleted.status_code == 404 and "message" in _json_or_empty(deleted),
        deleted.text[:200],
    )

    s.disable_user("bob")
    answer = s.deliver_cloudtrail("AdminDisableUser", username="bob", sub=state.subs.get("bob", ""))
    disabled = s.get("/hello", state.tokens["bob"], s.info.consumer_url)
    t.say(f"AdminDisableUser 'bob' -> attributeSync {json.dumps(answer)}; bob -> {_answer(disabled)}")
    t.check(
        "a disabled user gets 403 JSON",
        disabled.status_code == 403 and "message" in _json_or_empty(disabled),
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
    return [user.get("sub") for user in _json_or_empty(response).get("users", [])]


def step_10_directory(s: Scenario, t: Transcript, state: DemoState) -> None:
    t.step(
        10, "The user directory: an admin finds a user by e-mail; a tenant admin lists their own tenant only"
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


def _json_or_empty(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


STEPS = (
    step_1_sign_up,
    step_2_sign_in,
    step_3_attribute_sync,
    step_4_admin_created,
    step_5_backfill,
    step_6_delete,
    step_7_latency,
    step_8_consumer,
    step_9_events,
    step_10_directory,
)


def run_steps(scenario: Scenario, transcript: Transcript) -> None:
    state = DemoState()
    for step in STEPS:
        try:
            step(scenario, transcript, state)
        except Exception as exc:  # noqa: BLE001 - deliberate: one failed step must not hide the others
            transcript.check(f"{step.__name__} ran to the end", False, f"{type(exc).__name__}: {exc}"[:300])


def main() -> int:
    began = time.monotonic()
    transcript = Transcript()
    # Its own state folder: a `make dev` on other ports keeps running untouched.
    stack = LocalStack(state_dir=STATE_DIR / "demo", say=lambda line: print(f"    {line}"))
    print("The Cognito attribute mirror, end to end on a local stack (no AWS account)")
    try:
        info = stack.start()
        print(
            f"    stack ready in {stack.ready_seconds:.1f} s (pool {info.user_pool_id}, table {info.table})"
        )
        run_steps(Scenario(info), transcript)
    except LocalServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted")
        return 130
    finally:
        stack.stop()
    total = transcript.passed + len(transcript.failed)
    print(f"\n{transcript.passed}/{total} checks passed in {time.monotonic() - began:.1f} s (stack stopped)")
    for label in transcript.failed:
        print(f"  failed: {label}")
    return 0 if not transcript.failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
