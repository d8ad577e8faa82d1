"""The groupMembers stream function on moto: the mirror table's stream records → the group-members
table, guarded by the membership's version, with failed records reported for a retry."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from models.group_members import group_members_table
from models.guard import WriteOutcome
from tests.support.fixtures import GROUP_MEMBERS
from tests.support.group_members import (
    T0,
    membership,
    project,
    row_image,
    store_member,
    stream_record,
    tombstone_image,
)

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"


def image(groups: list[str], observed: int) -> dict[str, Any]:
    """A live row's image in `groups`, its membership observed at `observed`."""
    store_member(SUB, groups, observed=observed)
    found = row_image(SUB)
    assert found is not None
    return found


def tombstone(observed: int) -> dict[str, Any]:
    return tombstone_image(SUB, observed)


def state(group: str) -> tuple[bool, int] | None:
    item = membership(group, SUB)
    return None if item is None else (item["member"]["BOOL"], int(item["observed_at"]["N"]))


def test_a_user_added_to_a_group_becomes_a_member_item() -> None:
    # Given a row whose membership is observed for the first time, then a group added
    unknown = {**image([], T0), "groups_observed_at": {"NULL": True}}
    first, second = image(["admin"], T0 + 1), image(["admin", "ops"], T0 + 2)
    # When the two records are projected
    answer = project(stream_record(unknown, first, 1), stream_record(first, second, 2))
    # Then both memberships are items marked member at the latest observation; no record failed
    assert answer == {"batchItemFailures": []}
    assert state("admin") == (True, T0 + 2)
    assert state("ops") == (True, T0 + 2)
    item = membership("ops", SUB)
    assert item is not None and item["group"] == {"S": "ops"} and "expires_at" not in item


def test_a_lost_membership_item_comes_back_when_the_membership_is_observed_again() -> None:
    # Given a member of ops whose item was lost (its record went to the DLQ, or the table was restored)
    first = image(["ops"], T0)
    project(stream_record(None, first, 1))
    boto3.client("dynamodb").delete_item(
        TableName=GROUP_MEMBERS,
        Key={k: v for k, v in (membership("ops", SUB) or {}).items() if k in ("group_key", "sub")},
    )
    assert membership("ops", SUB) is None
    # When a reconcile observes the same membership again
    project(stream_record(first, image(["ops"], T0 + 9), 2))
    # Then the item is back, at the new observation
    assert state("ops") == (True, T0 + 9)


def test_a_removed_membership_stays_as_a_non_member_until_its_ttl() -> None:
    # Given a member of admin removed from it
    before, after = image(["admin"], T0), image([], T0 + 5)
    project(stream_record(None, before, 1))
    # When the removal is projected
    project(stream_record(before, after, 2))
    # Then the item says "not a member" at the removal's version, and expires
    assert state("admin") == (False, T0 + 5)
    item = membership("admin", SUB)
    assert item is not None and int(item["expires_at"]["N"]) > 0


@pytest.mark.parametrize("order", [(1, 2), (2, 1), (2, 1, 1, 2)])
def test_an_older_observation_never_wins_whatever_the_order_of_records(order: tuple[int, ...]) -> None:
    # Given an add at T0+1 and a later remove at T0+2 (records 1 and 2), delivered in any order,
    # replayed or not
    none, added, removed = image([], T0), image(["admin"], T0 + 1), image([], T0 + 2)
    records = {1: stream_record(none, added, 1), 2: stream_record(added, removed, 2)}
    # When they are projected in that order
    for number in order:
        project(records[number])
    # Then the later observation stands: admin removed
    assert state("admin") == (False, T0 + 2)


def test_a_deleted_user_leaves_every_group_and_a_replayed_add_never_brings_one_back() -> None:
    # Given a member of two groups, then deleted (a tombstone)
    none, member = image([], T0), image(["admin", "ops"], T0 + 1)
    added = stream_record(none, member, 1)
    project(added, stream_record(member, tombstone(T0 + 10), 2))
    assert (state("admin"), state("ops")) == ((False, T0 + 10), (False, T0 + 10))
    # When the older add is delivered again (a stream retry)
    project(added)
    # Then the tombstone's removal stands
    assert (state("admin"), state("ops")) == ((False, T0 + 10), (False, T0 + 10))


def test_a_duplicate_membership_is_a_no_op() -> None:
    # Given a membership written once
    members = group_members_table()
    assert members.put_membership("admin", SUB, member=True, observed_at=T0) is WriteOutcome.WRITTEN
    # When the same version, or an older one, comes again / Then nothing is written
    assert members.put_membership("admin", SUB, member=True, observed_at=T0) is WriteOutcome.SKIPPED
    assert members.put_membership("admin", SUB, member=False, observed_at=T0 - 1) is WriteOutcome.SKIPPED
    assert state("admin") == (True, T0)


def test_a_record_whose_write_fails_is_reported_alone_for_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given two records, the group-members table refusing writes for the second one's user
    other = "0f8fad5b-d9cb-469f-a165-70867728950e"
    store_member(other, ["ops"], observed=T0)
    other_image = row_image(other)
    fine = stream_record(None, image(["admin"], T0), 1)
    table = group_members_table()
    real_put = table.client.put_item

    def put_item(**call: Any) -> Any:
        if call["Item"]["sub"]["S"] == other:
            raise boto3.client("dynamodb").exceptions.ProvisionedThroughputExceededException(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                "PutItem",
            )
        return real_put(**call)

    monkeypatch.setattr(table.client, "put_item", put_item)
    # When the batch is projected
    answer = project(fine, stream_record(None, other_image, 2))
    # Then the second record alone is reported; the first one's membership landed
    assert answer == {"batchItemFailures": [{"itemIdentifier": f"{2:021d}"}]}
    assert state("admin") == (True, T0)


def test_a_malformed_record_is_reported_and_the_rest_projected() -> None:
    # Given a record without a readable sub next to a good one
    bad = stream_record(None, {"sub": {"S": ""}, "groups": {"SS": ["admin"]}}, 1)
    # When projected / Then the bad one is reported, the good one lands
    answer = project(bad, stream_record(None, image(["ops"], T0), 2))
    assert answer == {"batchItemFailures": [{"itemIdentifier": f"{1:021d}"}]}
    assert state("ops") == (True, T0)


def test_without_the_table_setting_the_whole_batch_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no MIRROR_GROUP_MEMBERS_TABLE
    from cognito_mirror import ConfigurationError
    from tests.support.fixtures import reset_process_state

    monkeypatch.delenv("MIRROR_GROUP_MEMBERS_TABLE")
    reset_process_state()
    # When a batch arrives / Then the invocation fails (every record retried once it is fixed)
    with pytest.raises(ConfigurationError, match="MIRROR_GROUP_MEMBERS_TABLE"):
        project(stream_record(None, image(["ops"], T0), 1))
    assert boto3.client("dynamodb").scan(TableName=GROUP_MEMBERS)["Items"] == []


def test_a_group_name_cognito_would_refuse_is_passed_over_and_the_rest_projected() -> None:
    # Given a row holding a name no Cognito group can have, beside a real one
    row = {**image(["ops"], T0), "groups": {"SS": ["ops", "two words"]}}
    # When projected / Then ops is written, the other name is not (no item can be keyed by it)
    assert project(stream_record(None, row, 1)) == {"batchItemFailures": []}
    assert state("ops") == (True, T0)
    assert [
        item["group"]["S"] for item in boto3.client("dynamodb").scan(TableName=GROUP_MEMBERS)["Items"]
    ] == ["ops"]
