"""Group members for real on the local stack: a membership written to the mirror table reaches the
group-members table through the stream plugin (groupMembers beside userEvents), and an admin lists
the group through GET /users?group=."""

from __future__ import annotations

import time
from collections.abc import Callable

from cognito_mirror.group_members import member_key
from scripts.scenario import Scenario

# Warm ~1 s here; the first record of a run also starts groupMembers' Python.
LAG_LIMIT_S = 30.0


def test_a_membership_written_to_the_mirror_reaches_the_group_members_table_and_its_listing(
    scenario: Scenario, unique: Callable[[str], str]
) -> None:
    # Given a mirrored user
    name, group = unique("gwen"), unique("ops")
    sub = scenario.sign_up(name, email=f"{name}@example.com")
    # When the mirror records that the user is in `group` (the membership's own write)
    observed = time.time_ns() // 1000
    scenario.ddb.update_item(
        TableName=scenario.info.table,
        Key={"sub": {"S": sub}},
        UpdateExpression="SET #g = :g, groups_observed_at = :o",
        ExpressionAttributeNames={"#g": "groups"},
        ExpressionAttributeValues={":g": {"SS": [group]}, ":o": {"N": str(observed)}},
    )
    written_at = time.monotonic()
    key = {"group_key": {"S": member_key(group, sub)}, "sub": {"S": sub}}
    item = None
    while item is None and time.monotonic() - written_at < LAG_LIMIT_S:
        time.sleep(0.2)
        item = scenario.ddb.get_item(
            TableName=scenario.info.group_members_table, Key=key, ConsistentRead=True
        ).get("Item")
    # Then the stream plugin ran groupMembers, which wrote the membership at the row's version
    assert item is not None, "the membership did not reach the group-members table"
    assert item["member"] == {"BOOL": True} and item["observed_at"] == {"N": str(observed)}
    print(f"membership projected {time.monotonic() - written_at:.2f} s after the write")
    # And an admin finds the user by listing the group
    admin = unique("ada")
    scenario.sign_up(admin, email=f"{admin}@example.com")
    scenario.make_admin(admin)
    answer = scenario.get("/users", scenario.sign_in(admin), params={"group": group})
    assert answer.status_code == 200, answer.text
    assert [user["sub"] for user in answer.json()["users"]] == [sub]
