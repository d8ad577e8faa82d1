"""Cognito triggers: mirror the user, always hand the event back unchanged, within the budget."""

from __future__ import annotations

import copy
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.fixtures import reset_process_state
from tests.support.helpers import FakeLambdaContext, load_event, trigger_event

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"
FIXTURES = [
    "post_confirmation_confirm_signup",
    "post_confirmation_forgot_password",
    "post_authentication",
]


def run(handler_module: str, event: Any) -> Any:
    import importlib

    module = importlib.import_module(f"functions.{handler_module}")
    return module.handler(event, FakeLambdaContext())


def handler_for(fixture: str) -> str:
    return "post_authentication" if fixture.startswith("post_authentication") else "post_confirmation"


@pytest.mark.parametrize("fixture", FIXTURES)
def test_trigger_mirrors_the_user_and_returns_the_event_unchanged(fixture: str, raw_item: Any) -> None:
    # Given a trigger event as Cognito sends it
    event = load_event(fixture)
    pristine = copy.deepcopy(event)
    # When the trigger runs
    returned = run(handler_for(fixture), event)
    # Then Cognito gets its event back untouched, and the mirror holds the user
    assert returned is event
    assert returned == pristine
    item = raw_item(SUB)
    assert item["username"]["S"] == "jane.doe"
    assert item["attributes"]["M"]["email"] == {"S": "jane.doe@example.com"}
    assert item["attributes"]["M"]["custom:tenant"] == {"S": "acme"}
    assert "cognito:user_status" not in item["attributes"]["M"]
    assert item["status"]["S"] == "CONFIRMED"
    assert item["enabled"]["BOOL"] is True


def test_sign_in_with_changed_attributes_updates_the_mirror(raw_item: Any) -> None:
    # Given a user mirrored at sign-up
    run("post_confirmation", trigger_event("post_confirmation_confirm_signup", sub=SUB, username="jane.doe"))
    # When they sign in after their given_name changed
    attrs = dict(load_event("post_authentication")["request"]["userAttributes"], given_name="Janet")
    run(
        "post_authentication",
        trigger_event("post_authentication", sub=SUB, username="jane.doe", attributes=attrs),
    )
    # Then the mirror shows the new value
    assert raw_item(SUB)["attributes"]["M"]["given_name"] == {"S": "Janet"}


def test_the_same_event_twice_changes_nothing(raw_item: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a trigger delivered once, with a frozen observation clock
    monkeypatch.setattr("models.user.now_us", lambda: 1_000_000)
    run("post_confirmation", load_event("post_confirmation_confirm_signup"))
    first = raw_item(SUB)
    # When Cognito delivers it again
    run("post_confirmation", load_event("post_confirmation_confirm_signup"))
    # Then the row is identical
    assert raw_item(SUB) == first


def test_a_late_older_trigger_does_not_overwrite_a_newer_snapshot(
    raw_item: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a sign-in observed at t=2 s with a new given_name
    monkeypatch.setattr("models.user.now_us", lambda: 2_000_000)
    attrs = dict(load_event("post_authentication")["request"]["userAttributes"], given_name="Janet")
    run(
        "post_authentication",
        trigger_event("post_authentication", sub=SUB, username="jane.doe", attributes=attrs),
    )
    # When the sign-up trigger observed at t=1 s is processed late
    monkeypatch.setattr("models.user.now_us", lambda: 1_000_000)
    run("post_confirmation", load_event("post_confirmation_confirm_signup"))
    # Then the newer snapshot stays
    item = raw_item(SUB)
    assert item["attributes"]["M"]["given_name"] == {"S": "Janet"}
    assert item["observed_at"]["N"] == "2000000"


def test_a_deleted_user_is_not_resurrected_by_a_late_trigger(raw_item: Any) -> None:
    # Given a user whose deletion was mirrored
    from models.table import mirror_table
    from models.user import now_us

    mirror_table().put_tombstone(SUB, observed_at=now_us(), source="attribute_sync")
    # When a PostAuthentication trigger arrives afterwards
    event = load_event("post_authentication")
    returned = run("post_authentication", event)
    # Then sign-in proceeds and the mirror still says deleted
    assert returned is event
    item = raw_item(SUB)
    assert item["deleted"]["BOOL"] is True
    assert "attributes" not in item


MALFORMED: list[Any] = [
    None,
    "not an object",
    [],
    42,
    {},
    {"triggerSource": "PostConfirmation_ConfirmSignUp"},
    {"triggerSource": "PostConfirmation_ConfirmSignUp", "userName": "x", "request": None},
    {"triggerSource": "PostConfirmation_ConfirmSignUp", "userName": "x", "request": "oops"},
    {"triggerSource": "PostConfirmation_ConfirmSignUp", "userName": "x", "request": {}},
    {"triggerSource": "PostConfirmation_ConfirmSignUp", "userName": "x", "request": {"userAttributes": []}},
    {"triggerSource": "PostConfirmation_ConfirmSignUp", "userName": "x", "request": {"userAttributes": {}}},
    {
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "userName": None,
        "request": {"userAttributes": {"sub": "s"}},
    },
    {
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "userName": "x",
        "request": {"userAttributes": {"sub": 5}},
    },
    {"triggerSource": "PreSignUp_SignUp", "userName": "x", "request": {"userAttributes": {"sub": "s"}}},
]


@pytest.mark.parametrize("event", MALFORMED, ids=range(len(MALFORMED)))
@pytest.mark.parametrize("handler_module", ["post_confirmation", "post_authentication"])
def test_malformed_events_are_returned_not_raised(handler_module: str, event: Any, ddb: Any) -> None:
    # Given a malformed event
    pristine = copy.deepcopy(event)
    # When a trigger receives it
    returned = run(handler_module, event)
    # Then it comes back as it was and nothing is written
    assert returned == pristine
    assert ddb.scan(TableName="mirror-test")["Count"] == 0


def test_huge_attribute_values_are_dropped_and_the_rest_mirrored(raw_item: Any) -> None:
    # Given an event with an absurdly large value and a huge number of custom attributes
    attrs = dict(load_event("post_confirmation_confirm_signup")["request"]["userAttributes"])
    attrs["given_name"] = "J" * 100_000
    attrs.update({f"custom:a{i}": "v" for i in range(500)})
    event = trigger_event("post_confirmation_confirm_signup", sub=SUB, username="jane.doe", attributes=attrs)
    # When the trigger runs
    returned = run("post_confirmation", event)
    # Then the event is returned, the oversized value is not stored, the row stays bounded
    assert returned is event
    stored = raw_item(SUB)["attributes"]["M"]
    assert "given_name" not in stored
    assert stored["email"] == {"S": "jane.doe@example.com"}
    assert len(stored) <= 128


def test_logs_carry_attribute_names_but_never_values(log_output: Callable[[], str]) -> None:
    # Given a sign-up with personal data
    event = load_event("post_confirmation_confirm_signup")
    # When the trigger runs
    run("post_confirmation", event)
    # Then the log names the attributes and the sub, never their values
    out = log_output()
    assert "given_name" in out and SUB in out
    for value in ("jane.doe@example.com", "Jane", "Doe", "acme"):
        assert f'"{value}"' not in out


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.loopback
@pytest.mark.parametrize("kind", ["blackhole", "closed"])
def test_dynamodb_unreachable_trigger_returns_within_budget(
    kind: str, blackhole: int, monkeypatch: pytest.MonkeyPatch, log_output: Callable[[], str]
) -> None:
    # Given DynamoDB that never answers (or refuses connections), outside moto
    from moto import mock_aws

    port = blackhole
    if kind == "closed":
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{port}")
    reset_process_state()
    event = load_event("post_confirmation_confirm_signup")
    with mock_aws(config={"core": {"passthrough": {"urls": [r"http://127\.0\.0\.1.*"]}}}):
        # When the trigger runs
        started = time.monotonic()
        returned = run("post_confirmation", event)
        elapsed = time.monotonic() - started
    # Then Cognito gets the event back (the elapsed time is measured by `make bench`, printed here)
    assert returned is event
    logged = log_output()
    assert "mirror write failed" in logged or "exceeded the trigger budget" in logged
    print(f"unreachable ({kind}) trigger returned in {elapsed:.2f} s")
