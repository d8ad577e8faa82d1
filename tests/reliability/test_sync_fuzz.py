"""Fuzzed CloudTrail input in SQS batches: bad records fail alone, good records are synced.

Each example builds one SQS batch (at most 10 records, like the event source) that mixes good
records (AdminUpdateUserAttributes for users whose state just changed in moto's Cognito) with bad
ones drawn from several families, in a random order, and hands it to `attribute_sync.handler`:

- the handler never raises;
- `batchItemFailures` lists every record that cannot be an EventBridge event (not JSON, not an
  object, no `detail-type` string, `detail` not an object) and never a good record;
- records that are valid but not ours (another `detail-type`, other event source, other pool, a
  failed call, an API call we do not sync, every identifier `HIDDEN_FOR_SECURITY_REASONS`) are
  acknowledged and write nothing;
- mutated fixture records (keys deleted, retyped, added anywhere) may fail, but only themselves;
- afterwards every good user's row equals Cognito's current state, never a tombstone, and every
  row of a sub Cognito does not know is a tombstone or absent.

Case counts: `--hypothesis-show-statistics` (each example tags its record families).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from tests.support.helpers import FakeLambdaContext
from tests.support.strategies import hostile_text, json_values, mutated, scalars
from tests.support.sync_events import (
    HIDDEN,
    cloudtrail,
    cognito_now,
    eventbridge,
    failed_ids,
    mirror,
    sqs_batch,
)

SYNCED_FIXTURES = [
    "admin_confirm_sign_up",
    "admin_create_user",
    "admin_delete_user",
    "admin_delete_user_attributes",
    "admin_disable_user",
    "admin_enable_user",
    "admin_link_provider_for_user",
    "admin_reset_user_password",
    "admin_set_user_password",
    "admin_update_user_attributes",
    "confirm_sign_up",
    "delete_user",
    "delete_user_attributes",
    "update_user_attributes",
    "verify_user_attribute",
]
MUST_FAIL = "must fail"
IGNORED = "ignored"
ANY = "may fail"


def ghost(draw: Any) -> tuple[str, str]:
    """A sub and username that Cognito does not know, fresh for every record: examples share the
    moto table, and hypothesis would draw the same few UUIDs again and again."""
    sub = str(uuid.uuid4())
    return sub, f"ghost-{sub[:8]}"


@st.composite
def not_json(draw: Any) -> tuple[str, Any, str]:
    text = draw(st.one_of(hostile_text, st.binary(max_size=64).map(lambda b: b.decode("latin-1"))))
    try:
        json.loads(text)
    except ValueError:
        return "not JSON", text, MUST_FAIL
    return "JSON scalar or junk", text, MUST_FAIL if not text.lstrip().startswith("{") else ANY


@st.composite
def not_an_object(draw: Any) -> tuple[str, Any, str]:
    value = draw(st.one_of(scalars, st.lists(json_values, max_size=4)))
    return "JSON but not an object", json.dumps(value), MUST_FAIL


@st.composite
def wrong_envelope(draw: Any, pool: str) -> tuple[str, Any, str, str]:
    """Not an EventBridge event (must fail), or another kind of EventBridge event: any other
    `detail-type` string (CloudTrail's service events, ...) is acknowledged and writes nothing."""
    sub, username = ghost(draw)
    body = eventbridge(cloudtrail("admin_update_user_attributes", pool=pool, sub=sub, username=username))
    how = draw(st.sampled_from(["detail-type", "detail", "no detail", "no detail-type"]))
    if how == "detail-type":
        body["detail-type"] = draw(hostile_text.filter(lambda t: t != "AWS API Call via CloudTrail"))
        return "envelope: another detail-type", body, IGNORED, sub
    if how == "detail":
        body["detail"] = draw(st.one_of(scalars, st.lists(json_values, max_size=4)))
    else:
        del body[how.removeprefix("no ")]
    return f"envelope: {how}", body, MUST_FAIL, sub


@st.composite
def not_ours(draw: Any, pool: str) -> tuple[str, Any, str, str]:
    """A valid record the sync must ignore; returns the ghost sub it names (never written)."""
    sub, username = ghost(draw)
    how = draw(st.sampled_from(["event source", "pool", "failed call", "event name", "hidden"]))
    name = "admin_initiate_auth" if how == "event name" else draw(st.sampled_from(SYNCED_FIXTURES))
    if how == "hidden":
        detail = cloudtrail(name, pool=pool, sub=HIDDEN, username=HIDDEN)
    else:
        other_pool = pool if how != "pool" else draw(st.sampled_from(["eu-west-1_Other", "us-east-1_x"]))
        detail = cloudtrail(name, pool=other_pool, sub=sub, username=username)
    if how == "event source":
        detail["eventSource"] = draw(
            st.sampled_from(["iam.amazonaws.com", "", "cognito-identity.amazonaws.com"])
        )
    elif how == "failed call":
        detail["errorCode"] = draw(st.sampled_from(["UserNotFoundException", "NotAuthorizedException"]))
        detail["errorMessage"] = "failed"
    return f"ignored: {how}", eventbridge(detail), IGNORED, sub


@st.composite
def mangled(draw: Any, pool: str, identities: list[tuple[str, str]]) -> tuple[str, Any, str]:
    """A fixture of a synced call, about a good user or a ghost, with 1-4 mutations."""
    name = draw(st.sampled_from(SYNCED_FIXTURES))
    sub, username = draw(st.sampled_from(identities)) if draw(st.booleans()) else ghost(draw)
    detail = draw(mutated(cloudtrail(name, pool=pool, sub=sub, username=username)))
    return "mutated fixture", eventbridge(detail), ANY


def deliver(*bodies: Any) -> dict[str, Any]:
    from functions.attribute_sync import handler

    response: dict[str, Any] = handler(sqs_batch(*bodies), FakeLambdaContext())
    return response


@given(data=st.data())
def test_bad_records_fail_alone_and_good_ones_are_synced(cognito, data):
    # Given 1-3 users whose plan just changed in Cognito
    good = []
    for _ in range(data.draw(st.integers(1, 3), label="good records")):
        username = f"fuzz-{uuid.uuid4().hex[:12]}"
        sub = cognito.create_user(username, email=f"{username}@example.com", custom__tenant="t1")
        cognito.idp.admin_update_user_attributes(
            UserPoolId=cognito.id,
            Username=username,
            UserAttributes=[{"Name": "custom:plan", "Value": data.draw(st.sampled_from(["free", "pro"]))}],
        )
        good.append((sub, username))
    # and up to 7 bad records of every family
    family = st.one_of(
        not_json(),
        not_an_object(),
        wrong_envelope(cognito.id),
        not_ours(cognito.id),
        mangled(cognito.id, good),
    )
    bad = data.draw(st.lists(family, min_size=1, max_size=10 - len(good)), label="bad records")
    records: list[tuple[str, Any, str, str | None]] = [
        (
            "good",
            eventbridge(cloudtrail("admin_update_user_attributes", pool=cognito.id, sub=s, username=u)),
            "good",
            None,
        )
        for s, u in good
    ]
    records += [(kind, body, rule, extra[0] if extra else None) for kind, body, rule, *extra in bad]
    order = data.draw(st.permutations(range(len(records))), label="order")
    batch = [records[i] for i in order]
    for kind, *_ in batch:
        event(kind)

    # When the batch is delivered
    failed = set(failed_ids(deliver(*(body for _, body, _, _ in batch))))

    # Then records fail alone, by rule
    for index, (kind, _, rule, ghost_sub) in enumerate(batch):
        message_id = f"msg-{index}"
        if rule == MUST_FAIL:
            assert message_id in failed, kind
        elif rule in ("good", IGNORED):
            assert message_id not in failed, kind
        if ghost_sub is not None:
            assert mirror(ghost_sub) is None, kind
    # and every good user's row is Cognito's current state
    for sub, username in good:
        stored = mirror(sub)
        assert stored is not None and not stored.is_tombstone
        assert stored.to_snapshot().same_state(cognito_now(cognito, username))
    event(f"failed records in batch: {len(failed)}")


def test_a_batch_of_only_bad_records_lists_every_one(cognito):
    # Given a batch where no record can be parsed
    bodies = ["", "not json", "[]", json.dumps({"detail-type": "x"}), json.dumps({"detail": []})]

    # When it is delivered
    response = deliver(*bodies)

    # Then every record is reported (retried, then DLQ), none is lost, nothing raised
    assert sorted(failed_ids(response)) == [f"msg-{i}" for i in range(len(bodies))]


def test_identifiers_of_a_record_reach_the_logs_only_when_they_look_like_aws_ids(cognito, log_output):
    # Given synced and ignored records whose eventID and eventName carry a person's email
    email = "jane.doe@example.com"
    sub = cognito.create_user("pii-probe", email="probe@example.com")
    synced = cloudtrail("admin_update_user_attributes", pool=cognito.id, sub=sub, username="pii-probe")
    synced["eventID"] = email
    ignored = dict(synced, eventName=email)

    # When they are delivered
    response = deliver(eventbridge(synced), eventbridge(ignored))

    # Then the user is synced, nothing fails, and the email is in no log line
    assert failed_ids(response) == []
    assert mirror(sub) is not None
    assert email not in log_output()
