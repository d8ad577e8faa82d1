"""The group-members projection's decisions: a stream record's old and new images → the memberships
it writes and removes, and at which version (pure: no table)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.common.group_members import MembershipChange, membership_change
from functions.common.user_events import MalformedStreamRecordError
from tests.support.group_members import tombstone_image

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"
T0 = 1_764_000_000_000_000


def live(groups: list[str] | None, observed: int | None = T0, *, profile_at: int = T0) -> dict[str, Any]:
    """A live row's image; `groups` None with `observed` None: groups unknown."""
    image: dict[str, Any] = {
        "sub": {"S": SUB},
        "username": {"S": "jane"},
        "attributes": {"M": {"email": {"S": "jane@example.com"}}},
        "status": {"S": "CONFIRMED"},
        "enabled": {"BOOL": True},
        "observed_at": {"N": str(profile_at)},
        "source": {"S": "sync"},
        "deleted": {"BOOL": False},
    }
    if observed is not None:
        image["groups_observed_at"] = {"N": str(observed)}
        if groups:
            image["groups"] = {"SS": groups}
    return image


def tombstone(observed: int) -> dict[str, Any]:
    return tombstone_image(SUB, observed)


def test_a_membership_observed_again_writes_every_group_at_the_rows_membership_version() -> None:
    # Given a row in `admin` whose membership is observed again with `ops` added
    old, new = live(["admin"], T0), live(["admin", "ops"], T0 + 5)
    # When the record is projected
    change = membership_change(old, new)
    # Then both groups are written at the new version (a lost `admin` item heals), nothing removed
    assert change == MembershipChange(SUB, ("admin", "ops"), (), T0 + 5)


def test_a_membership_observed_again_unchanged_still_writes_its_groups() -> None:
    # Given a reconcile's observation of the same groups / Then they are written again (self-healing)
    assert membership_change(live(["admin"], T0), live(["admin"], T0 + 9)) == MembershipChange(
        SUB, ("admin",), (), T0 + 9
    )


def test_a_removed_group_is_a_removal_at_the_rows_membership_version() -> None:
    # Given a row leaving `admin`
    change = membership_change(live(["admin", "ops"], T0), live(["ops"], T0 + 7))
    # Then `admin` is removed at that version, `ops` written again
    assert change == MembershipChange(SUB, ("ops",), ("admin",), T0 + 7)


def test_a_row_no_longer_in_any_group_removes_every_group() -> None:
    # Given a row whose last groups go (no set: DynamoDB holds no empty set)
    change = membership_change(live(["admin", "ops"], T0), live([], T0 + 1))
    # Then both are removed
    assert change == MembershipChange(SUB, (), ("admin", "ops"), T0 + 1)


def test_groups_observed_for_the_first_time_add_every_group() -> None:
    # Given a row written by a trigger (groups unknown), then its membership observed
    change = membership_change(live(None, None), live(["admin", "ops"], T0 + 3))
    # Then every group is added
    assert change == MembershipChange(SUB, ("admin", "ops"), (), T0 + 3)


def test_a_new_user_with_groups_adds_them() -> None:
    # Given an INSERT of a row whose groups are known
    change = membership_change(None, live(["ops"], T0))
    # Then its group is added
    assert change == MembershipChange(SUB, ("ops",), (), T0)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (live(["admin"], T0), live(["admin"], T0, profile_at=T0 + 9)),  # a profile write
        (live(None, None), live(None, None, profile_at=T0 + 9)),  # still unknown
        (live(["admin"], T0), live(None, None, profile_at=T0 + 9)),  # unknown now: nothing known
        (None, live(None, None)),  # a trigger's new row
        (None, live([], T0)),  # a new row in no group
        (live(None, None), tombstone(T0 + 9)),  # deleted, groups never known
        (tombstone(T0), tombstone(T0 + 9)),  # a tombstone rewritten
        (tombstone(T0), None),  # a tombstone's expiry
        (tombstone(T0), live(None, None, profile_at=T0 + 9)),  # a wrong tombstone revived
    ],
)
def test_records_that_change_no_known_membership_write_nothing(
    old: dict[str, Any] | None, new: dict[str, Any] | None
) -> None:
    # Given a record that changes no known membership / When projected / Then nothing is written
    assert membership_change(old, new) is None


def test_a_tombstone_removes_every_group_the_old_image_held_at_the_deletions_version() -> None:
    # Given a member of two groups deleted later
    change = membership_change(live(["admin", "ops"], T0), tombstone(T0 + 50))
    # Then both memberships are removed at the tombstone's version
    assert change == MembershipChange(SUB, (), ("admin", "ops"), T0 + 50)


def test_a_tombstone_stamped_before_the_last_membership_still_removes_it() -> None:
    # Given a deletion whose stamp is older than the membership it ends (clocks of two writers)
    change = membership_change(live(["admin"], T0 + 100), tombstone(T0 + 50))
    # Then the removal is still newer than that membership: the deleted user leaves the group
    assert change == MembershipChange(SUB, (), ("admin",), T0 + 101)


def test_a_live_row_removed_by_hand_leaves_its_groups() -> None:
    # Given a REMOVE of a live row (no tombstone)
    change = membership_change(live(["admin"], T0), None)
    # Then its group is removed, above the membership's version
    assert change == MembershipChange(SUB, (), ("admin",), T0 + 1)


def test_reserved_rows_are_never_members() -> None:
    # Given the directory's layout record changing
    layout = {
        "sub": {"S": "#directory-layout"},
        "groups": {"SS": ["admin"]},
        "groups_observed_at": {"N": "1"},
    }
    # Then nothing is projected (read no further than the sub)
    assert membership_change(None, layout) is None
    assert membership_change(layout, None) is None


@pytest.mark.parametrize("image", [{"username": {"S": "no-sub"}}, {"sub": {"S": ""}}, {"sub": "plain"}])
def test_an_image_the_mirror_could_not_have_written_is_malformed(image: dict[str, Any]) -> None:
    with pytest.raises(MalformedStreamRecordError):
        membership_change(None, image)
