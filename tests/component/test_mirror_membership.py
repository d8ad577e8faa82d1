"""The membership's guarded writes: versioned apart from the profile, newest observation wins,
never on a missing row or a tombstone, and a profile write never touches it."""

from __future__ import annotations

from typing import Any

import pytest

from cognito_mirror.record import row_from_item
from models.guard import WriteOutcome
from models.table import mirror_table
from models.user import UserSnapshot

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"
W, S = WriteOutcome.WRITTEN, WriteOutcome.SKIPPED


def snapshot(observed_at: int, email: str = "jane@example.com") -> UserSnapshot:
    return UserSnapshot(SUB, "jane.doe", {"email": email}, "CONFIRMED", True, observed_at, "test")


def put_groups(groups: list[str], observed_at: int) -> WriteOutcome:
    return mirror_table().put_groups(SUB, groups, observed_at=observed_at, source="test")


def groups_of(raw_item: Any) -> tuple[str, ...] | None:
    """The stored row's membership as the contract reads it (None: unknown)."""
    item = raw_item(SUB)
    assert item is not None
    groups: tuple[str, ...] | None = row_from_item(item)["groups"]
    return groups


def test_a_new_row_has_unknown_groups_until_a_membership_is_written(raw_item: Any) -> None:
    # Given a row written by a profile write
    mirror_table().put_snapshot(snapshot(100))
    assert groups_of(raw_item) is None
    # When its membership is written
    outcome = put_groups(["support", "admin", "admin"], 150)
    # Then the row holds the set, sorted and without duplicates, and its version
    assert outcome is W
    assert groups_of(raw_item) == ("admin", "support")
    assert raw_item(SUB)["groups_observed_at"] == {"N": "150"}


def test_no_group_is_known_and_empty_not_unknown(raw_item: Any) -> None:
    # Given a row in two groups
    mirror_table().put_snapshot(snapshot(100))
    put_groups(["admin", "support"], 150)
    # When a newer observation finds the user in no group
    assert put_groups([], 160) is W
    # Then the set is gone (DynamoDB holds no empty set) and the groups are known: none
    assert "groups" not in raw_item(SUB)
    assert groups_of(raw_item) == ()


def test_a_profile_write_leaves_the_membership_intact(raw_item: Any) -> None:
    # Given a row with a known membership
    mirror_table().put_snapshot(snapshot(100, "old@example.com"))
    put_groups(["admin"], 150)
    # When newer profile snapshots land, one older and one newer than the membership
    assert mirror_table().put_snapshot(snapshot(120, "mid@example.com")) is W
    assert mirror_table().put_snapshot(snapshot(200, "new@example.com")) is W
    # Then the profile changed and the membership and its version did not
    item = raw_item(SUB)
    assert item["attributes"]["M"]["email"] == {"S": "new@example.com"}
    assert groups_of(raw_item) == ("admin",)
    assert item["groups_observed_at"] == {"N": "150"}


def test_the_membership_does_not_move_the_profiles_version(raw_item: Any) -> None:
    # Given a profile observed at 100
    mirror_table().put_snapshot(snapshot(100))
    # When a membership observed later is written
    put_groups(["admin"], 300)
    # Then the profile's version and writer are as they were: an older profile can still not land,
    # a newer one still can
    assert raw_item(SUB)["observed_at"] == {"N": "100"}
    assert raw_item(SUB)["source"] == {"S": "test"}
    assert mirror_table().put_snapshot(snapshot(100)) is S
    assert mirror_table().put_snapshot(snapshot(101)) is W


@pytest.mark.parametrize("order", ["add-then-remove", "remove-then-add"])
def test_an_older_observation_never_overwrites_a_newer_one(raw_item: Any, order: str) -> None:
    # Given a user added to `admin` (observed at 150) then removed (observed at 160)
    mirror_table().put_snapshot(snapshot(100))
    added, removed = (["admin", "support"], 150), (["support"], 160)
    # When the two observations are written in either order
    first, second = (added, removed) if order == "add-then-remove" else (removed, added)
    outcomes = [put_groups(*first), put_groups(*second)]
    # Then the later observation holds, whichever came last
    assert groups_of(raw_item) == ("support",)
    assert outcomes == ([W, W] if order == "add-then-remove" else [W, S])


def test_a_duplicate_observation_is_a_no_op(raw_item: Any) -> None:
    # Given a membership observed at 150
    mirror_table().put_snapshot(snapshot(100))
    put_groups(["admin"], 150)
    # When the very same observation is written again, even with other groups
    # Then nothing changes
    assert put_groups(["other"], 150) is S
    assert groups_of(raw_item) == ("admin",)


def test_a_missing_row_gets_no_membership(raw_item: Any) -> None:
    # Given no row for the user
    # When a membership is written
    # Then nothing lands and no row is created (the writer mirrors the user first)
    assert put_groups(["admin"], 150) is S
    assert raw_item(SUB) is None


def test_a_tombstone_never_regains_groups(raw_item: Any) -> None:
    # Given a user with groups, then deleted
    mirror_table().put_snapshot(snapshot(100))
    put_groups(["admin"], 150)
    mirror_table().put_tombstone(SUB, observed_at=200, source="test")
    # Then the tombstone dropped the membership
    assert "groups" not in raw_item(SUB) and "groups_observed_at" not in raw_item(SUB)
    # When a later membership write or group removal arrives
    # Then neither lands: the tombstone stays as it is
    assert put_groups(["admin"], 300) is S
    assert mirror_table().remove_group(SUB, "admin", observed_at=300) is S
    item = raw_item(SUB)
    assert item["deleted"] == {"BOOL": True}
    assert "groups" not in item and "groups_observed_at" not in item


def test_a_deleted_group_leaves_the_row_and_the_others_stay(raw_item: Any) -> None:
    # Given a user in two groups observed at 150
    mirror_table().put_snapshot(snapshot(100))
    put_groups(["admin", "support"], 150)
    # When `admin` is deleted, observed at 170, and the removal is delivered twice
    assert mirror_table().remove_group(SUB, "admin", observed_at=170) is W
    assert mirror_table().remove_group(SUB, "admin", observed_at=170) is S
    # Then only `support` is left and the membership's version is the deletion's
    assert groups_of(raw_item) == ("support",)
    assert raw_item(SUB)["groups_observed_at"] == {"N": "170"}
    # And an observation from before the deletion, which still held `admin`, can no longer land
    assert put_groups(["admin", "support"], 160) is S
    assert groups_of(raw_item) == ("support",)


def test_a_deleted_group_stays_with_a_member_re_added_later(raw_item: Any) -> None:
    # Given a user whose membership, observed after the deletion, holds a re-created `admin`
    mirror_table().put_snapshot(snapshot(100))
    put_groups(["admin"], 180)
    # When the deletion observed at 170 is applied
    # Then it does not land: the newer membership stands
    assert mirror_table().remove_group(SUB, "admin", observed_at=170) is S
    assert groups_of(raw_item) == ("admin",)


def test_a_deleted_group_leaves_unknown_groups_unknown(raw_item: Any) -> None:
    # Given a row whose membership was never observed
    mirror_table().put_snapshot(snapshot(100))
    # When a group's deletion reaches it / Then nothing lands: still unknown, not "no group"
    assert mirror_table().remove_group(SUB, "admin", observed_at=170) is S
    assert groups_of(raw_item) is None


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, "tab\there"])
def test_a_group_name_cognito_cannot_give_is_refused_before_any_write(raw_item: Any, bad: str) -> None:
    # Given a live row
    mirror_table().put_snapshot(snapshot(100))
    # When a membership or removal names an impossible group / Then it is refused, nothing written
    with pytest.raises(ValueError, match="group name"):
        put_groups(["admin", bad], 150)
    with pytest.raises(ValueError, match="group name"):
        mirror_table().remove_group(SUB, bad, observed_at=150)
    assert groups_of(raw_item) is None


def test_a_reserved_key_never_gets_a_membership() -> None:
    # Given the key of the mirror's own state / When a membership is written for it
    # Then it is refused before any write
    with pytest.raises(ValueError, match="reserved"):
        mirror_table().put_groups("#layout", ["admin"], observed_at=1, source="test")
