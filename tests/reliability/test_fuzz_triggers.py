"""Fuzzed Cognito trigger events: every trigger returns the event, unchanged, and never raises.

Whatever arrives (non-objects, missing keys, wrong types, huge and unicode strings), sign-up and
sign-in must go on: the handler hands Cognito back exactly what it got. What does get written is
still clean: allow-listed names, string values within Cognito's limits.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from models.table import mirror_table
from models.user import MAX_KEY_BYTES, MAX_VALUE_CHARS, STANDARD_ATTRIBUTES
from tests.support.helpers import FakeLambdaContext, load_event
from tests.support.strategies import hostile_text, json_values, mutated

FIXTURES = {
    "post_confirmation": ["post_confirmation_confirm_signup", "post_confirmation_forgot_password"],
    "post_authentication": ["post_authentication"],
}
TRIGGERS = sorted(FIXTURES)


def handler_of(name: str) -> Any:
    if name == "post_confirmation":
        from functions.post_confirmation import handler
    else:
        from functions.post_authentication import handler
    return handler


def invoke(trigger: str, event: Any) -> None:
    """Call the trigger like Lambda does; assert the contract on what comes back."""
    before = copy.deepcopy(event)
    returned = handler_of(trigger)(event, FakeLambdaContext())
    assert returned is event
    assert repr(returned) == repr(before)  # repr: NaN never equals itself


@pytest.mark.parametrize("trigger", TRIGGERS)
@given(event_=st.one_of(json_values, st.lists(json_values), st.binary(max_size=64)))
def test_non_object_or_arbitrary_events_come_back_unchanged(trigger: str, event_: Any) -> None:
    # Given anything at all as the event
    event(f"type={type(event_).__name__}")
    # When the trigger runs, Then it returns that very object, unchanged, without raising
    invoke(trigger, event_)


@pytest.mark.parametrize("trigger", TRIGGERS)
@given(data=st.data())
def test_mutated_fixture_events_come_back_unchanged(trigger: str, data: Any) -> None:
    # Given a real trigger fixture with keys deleted, retyped or added anywhere
    base = load_event(data.draw(st.sampled_from(FIXTURES[trigger]), label="fixture"))
    base["request"]["userAttributes"]["sub"] = str(uuid.uuid4())
    fuzzed = data.draw(mutated(base), label="event")
    # When the trigger runs, Then it returns the event unchanged
    invoke(trigger, fuzzed)
    attributes = (
        fuzzed.get("request", {}).get("userAttributes") if isinstance(fuzzed.get("request"), dict) else None
    )
    sub = attributes.get("sub") if isinstance(attributes, dict) else None
    # Then whatever was written holds only clean values
    if isinstance(sub, str) and sub:
        assert_clean_row(sub)


attribute_names = st.one_of(
    st.sampled_from(sorted(STANDARD_ATTRIBUTES)),
    st.sampled_from(["custom:tenant", "custom:plan", "cognito:user_status", "cognito:mfa_enabled"]),
    hostile_text,
)


@pytest.mark.parametrize("trigger", TRIGGERS)
@given(
    attributes=st.dictionaries(attribute_names, json_values, max_size=12),
    user_name=json_values,
    source_index=st.integers(0, 1),
)
def test_fuzzed_user_attributes_never_break_sign_in_nor_store_junk(
    trigger: str, attributes: dict[str, Any], user_name: Any, source_index: int
) -> None:
    # Given a well-formed envelope around fuzzed attributes and userName, with a fresh sub
    sources = FIXTURES[trigger]
    event_ = load_event(sources[source_index % len(sources)])
    sub = str(uuid.uuid4())
    event_["userName"] = user_name
    event_["request"]["userAttributes"] = {**attributes, "sub": sub}
    # When the trigger runs
    invoke(trigger, event_)
    # Then the row, if any, is clean, and it exists whenever the input was usable
    stored = assert_clean_row(sub)
    usable = (
        isinstance(user_name, str) and 0 < len(user_name.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES
    )
    event(f"usable userName={usable}, stored={stored}")
    assert stored == usable


def assert_clean_row(sub: str) -> bool:
    record = mirror_table().get_record(sub, consistent=True)
    if record is None:
        return False
    snapshot = record.to_snapshot()
    assert snapshot.sub == sub
    for name, value in snapshot.attributes.items():
        assert name in STANDARD_ATTRIBUTES or name.startswith("custom:")
        assert isinstance(value, str) and len(value) <= MAX_VALUE_CHARS
    return True
