"""Property: however CloudTrail events are delayed, duplicated or reordered, the mirror ends as Cognito."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.helpers import FakeLambdaContext
from tests.support.sync_events import cloudtrail, cognito_now, eventbridge, failed_ids, mirror, sqs_batch

_names = itertools.count()

# Each change: what it does in Cognito, and the CloudTrail record it produces.
CHANGES = ("plan", "disable", "enable", "drop_plan")
FIXTURE = {
    "plan": "admin_update_user_attributes",
    "disable": "admin_disable_user",
    "enable": "admin_enable_user",
    "drop_plan": "admin_delete_user_attributes",
}


def apply(cognito: Any, username: str, change: str, step: int) -> None:
    idp, pool = cognito.idp, cognito.id
    if change == "plan":
        attrs = [{"Name": "custom:plan", "Value": f"plan-{step}"}]
        idp.admin_update_user_attributes(UserPoolId=pool, Username=username, UserAttributes=attrs)
    elif change == "disable":
        idp.admin_disable_user(UserPoolId=pool, Username=username)
    elif change == "enable":
        idp.admin_enable_user(UserPoolId=pool, Username=username)
    elif change == "drop_plan":
        if "custom:plan" in cognito_now(cognito, username).attributes:  # moto refuses a second drop
            idp.admin_delete_user_attributes(
                UserPoolId=pool, Username=username, UserAttributeNames=["custom:plan"]
            )
    else:
        idp.admin_delete_user(UserPoolId=pool, Username=username)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.lists(st.sampled_from(CHANGES), min_size=1, max_size=5),
    delete_at_end=st.booleans(),
    data=st.data(),
)
def test_any_delivery_schedule_ends_with_cognitos_state(cognito, changes, delete_at_end, data):
    from functions.attribute_sync import handler

    # Given a user, a series of changes, and for each change's event 1-2 deliveries, each delayed
    # by 0-3 steps (never delivered before its call happened), in any order within a step
    username = f"prop{next(_names)}"
    sub = cognito.create_user(username, email=f"{username}@example.com", custom__plan="free")
    steps = [*changes, "delete"] if delete_at_end else list(changes)
    events = [
        eventbridge(
            cloudtrail(FIXTURE.get(change, "admin_delete_user"), pool=cognito.id, sub=sub, username=username)
        )
        for change in steps
    ]
    slots: list[list[dict[str, Any]]] = [[] for _ in steps]
    for index, detail in enumerate(events):
        for _ in range(data.draw(st.integers(1, 2))):
            slots[min(len(steps) - 1, index + data.draw(st.integers(0, 3)))].append(detail)
    slots = [data.draw(st.permutations(slot)) for slot in slots]

    # When the changes happen and the deliveries arrive as scheduled
    for step, change in enumerate(steps):
        apply(cognito, username, change, step)
        if slots[step]:
            assert failed_ids(handler(sqs_batch(*slots[step]), FakeLambdaContext())) == []

    # Then the mirror holds Cognito's final state; a deleted user is never live: its row is a
    # tombstone, or absent when no delivery reached it while it existed (no row ties a name to it)
    stored = mirror(sub)
    if delete_at_end:
        assert stored is None or stored.is_tombstone
    else:
        assert not stored.is_tombstone
        assert stored.to_snapshot().same_state(cognito_now(cognito, username))
