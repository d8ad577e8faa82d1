"""Bugs the fuzzers found in the triggers and the snapshot model, pinned by explicit cases."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from models.errors import MalformedUserError
from models.table import mirror_table
from models.user import snapshot_from_cognito_user, snapshot_from_trigger
from tests.support.helpers import FakeLambdaContext, trigger_event
from tests.support.metrics import emitted
from tests.support.pii_watch import WATCH


def run_post_authentication(event: Any) -> Any:
    from functions.post_authentication import handler

    return handler(event, FakeLambdaContext())


@pytest.mark.parametrize("source", [[], {}, ["PostAuthentication_Authentication"], {"a": 1}])
def test_an_unhashable_trigger_source_is_returned_not_raised(source: Any, capsys: Any) -> None:
    # Given an event whose triggerSource is a list or an object (was: TypeError, sign-in broken)
    event = trigger_event("post_authentication", sub=str(uuid.uuid4()), username="jane.doe")
    event["triggerSource"] = source
    # When the trigger runs, Then the event comes back and the malformed event is counted
    assert run_post_authentication(event) is event
    assert emitted(capsys.readouterr().out)["TriggerMalformedEvent"] == 1


@pytest.mark.parametrize(
    "source", ["+15555550100", "jane.doe@example.com", {"email": "jane.doe@example.com"}]
)
def test_an_unexpected_trigger_source_is_logged_without_its_value(source: Any) -> None:
    # Given a triggerSource holding a value that could be personal data (was: logged verbatim)
    event = trigger_event("post_authentication", sub=str(uuid.uuid4()), username="jane.doe")
    event["triggerSource"] = source
    # When the trigger runs
    with WATCH.expecting_leak() as leaks:
        assert run_post_authentication(event) is event
    # Then no log record carries it
    assert leaks == []


def test_a_username_too_long_for_the_index_key_is_malformed_not_a_write_failure(capsys: Any) -> None:
    # Given a userName within 2048 characters but over 2048 UTF-8 bytes (the username-index key
    # limit: the write failed at DynamoDB every time and was counted as an outage)
    sub = str(uuid.uuid4())
    event = trigger_event("post_authentication", sub=sub, username="é😀\u202e" * 228)
    # When the trigger runs
    assert run_post_authentication(event) is event
    # Then it is counted as a malformed event, and nothing is written
    metrics = emitted(capsys.readouterr().out)
    assert metrics["TriggerMalformedEvent"] == 1
    assert metrics["MirrorWriteFailed"] == 0
    assert mirror_table().get_record(sub) is None


def test_snapshots_refuse_usernames_over_the_index_key_limit() -> None:
    # Given usernames just under and just over 2048 UTF-8 bytes
    fits, too_long = "😀" * 512, "😀" * 512 + "x"
    attrs = {"sub": str(uuid.uuid4())}
    # When snapshots are made from a trigger and from Cognito, Then only the fitting one passes
    assert snapshot_from_trigger(fits, attrs, allowlist=None, source="t").username == fits
    with pytest.raises(MalformedUserError):
        snapshot_from_trigger(too_long, attrs, allowlist=None, source="t")
    listed = {"Username": too_long, "Attributes": [{"Name": "sub", "Value": attrs["sub"]}]}
    with pytest.raises(MalformedUserError):
        snapshot_from_cognito_user(listed, allowlist=None, source="backfill")
