"""attribute_sync and group membership: AdminAddUserToGroup and AdminRemoveUserFromGroup re-read
the user's whole membership from Cognito; DeleteGroup, once Cognito confirms it, takes the group out
of every member's row; CreateGroup and UpdateGroup change no one's membership and are ignored."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from models.table import mirror_table
from tests.support.sync_events import (
    GROUP_MEMBERS_TABLE,
    cloudtrail,
    create_group_members_table,
    deliver,
    emitted_metrics,
    eventbridge,
    failed_ids,
    mirror,
    mirror_now,
    record_membership,
)

Sync = Callable[..., dict[str, Any]]


@pytest.fixture
def sync() -> Sync:
    return deliver


@pytest.fixture
def members(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The group-members table in moto, named to the sync by MIRROR_GROUP_MEMBERS_TABLE."""
    from tests.support.fixtures import reset_process_state

    create_group_members_table(ddb)
    monkeypatch.setenv("MIRROR_GROUP_MEMBERS_TABLE", GROUP_MEMBERS_TABLE)
    reset_process_state()
    yield ddb


def membership_event(cognito: Any, name: str, username: str, group: str = "admin") -> dict[str, Any]:
    detail = cloudtrail(name, pool=cognito.id, username=username)
    detail["requestParameters"]["groupName"] = group
    return eventbridge(detail)


def group_event(cognito: Any, group: str, name: str = "delete_group") -> dict[str, Any]:
    detail = cloudtrail(name, pool=cognito.id)
    detail["requestParameters"]["groupName"] = group
    return eventbridge(detail)


def groups(sub: str) -> tuple[str, ...] | None:
    """The mirrored membership of `sub` (None: unknown), as the record contract reads it."""
    record = mirror(sub)
    assert record is not None
    if record.groups_observed_at is None:
        return None
    return tuple(sorted(record.groups or ()))


def add(cognito: Any, username: str, *names: str) -> None:
    for name in names:
        with contextlib.suppress(cognito.idp.exceptions.GroupExistsException):
            cognito.idp.create_group(UserPoolId=cognito.id, GroupName=name)
        cognito.idp.admin_add_user_to_group(UserPoolId=cognito.id, Username=username, GroupName=name)


# --- a user's membership --------------------------------------------------------------------------


def test_adding_a_user_to_a_group_mirrors_the_whole_membership(cognito, sync):
    # Given a mirrored user (groups unknown) added to `admin` and `support` in Cognito
    sub = cognito.create_user("ann", email="ann@example.com")
    mirror_now(cognito, "ann")
    assert groups(sub) is None
    add(cognito, "ann", "admin", "support")

    # When the AdminAddUserToGroup record for `admin` arrives
    response = sync(membership_event(cognito, "admin_add_user_to_group", "ann"))

    # Then the row holds every group Cognito lists now, not only the record's
    assert failed_ids(response) == []
    assert groups(sub) == ("admin", "support")


def test_a_record_carrying_the_sub_syncs_the_same_membership(cognito, sync):
    # Given a mirrored user in `admin`, and a record that also carries the user's sub
    sub = cognito.create_user("abe")
    mirror_now(cognito, "abe")
    add(cognito, "abe", "admin")
    event = membership_event(cognito, "admin_add_user_to_group", "abe")
    event["detail"]["additionalEventData"] = {"sub": sub}
    # When it arrives / Then the membership is mirrored through the sub's own row
    assert failed_ids(sync(event)) == []
    assert groups(sub) == ("admin",)


def test_a_user_not_yet_mirrored_is_mirrored_then_gets_the_membership(cognito, sync):
    # Given a user Cognito has in `admin` whom the mirror has never seen
    sub = cognito.create_user("ben", email="ben@example.com")
    add(cognito, "ben", "admin")
    assert mirror(sub) is None

    # When the AdminAddUserToGroup record arrives
    sync(membership_event(cognito, "admin_add_user_to_group", "ben"))

    # Then the row exists with the profile and the membership
    assert mirror(sub).to_snapshot().attributes["email"] == "ben@example.com"
    assert groups(sub) == ("admin",)


def test_removing_a_user_from_a_group_takes_it_out_of_the_row(cognito, sync):
    # Given a user whose mirrored membership holds `admin`
    sub = cognito.create_user("cat")
    add(cognito, "cat", "admin", "support")
    sync(membership_event(cognito, "admin_add_user_to_group", "cat"))
    # When Cognito removes it and the record arrives
    cognito.idp.admin_remove_user_from_group(UserPoolId=cognito.id, Username="cat", GroupName="admin")
    sync(membership_event(cognito, "admin_remove_user_from_group", "cat"))
    # Then the row holds only `support`
    assert groups(sub) == ("support",)


def test_add_and_remove_delivered_out_of_order_end_as_cognito_is(cognito, sync):
    # Given a user added to `admin` and then removed, both in Cognito
    sub = cognito.create_user("dan")
    add(cognito, "dan", "admin")
    cognito.idp.admin_remove_user_from_group(UserPoolId=cognito.id, Username="dan", GroupName="admin")
    # When the removal is delivered before the addition
    sync(membership_event(cognito, "admin_remove_user_from_group", "dan"))
    sync(membership_event(cognito, "admin_add_user_to_group", "dan"))
    # Then the row says what Cognito says now: no group (known, not unknown)
    assert groups(sub) == ()


def test_a_membership_read_before_a_removal_never_overwrites_it(cognito, sync, monkeypatch):
    # Given a read of the user's groups taken while the user was still in `admin` (a slow worker)
    from functions.common import cognito as cognito_reads
    from functions.common import sync as sync_module

    sub = cognito.create_user("eve")
    add(cognito, "eve", "admin")
    stale = cognito_reads.read_groups(user_pool_id=cognito.id, username="eve")
    assert stale is not None and stale.groups == ("admin",)
    # And the removal, read after it, already written
    cognito.idp.admin_remove_user_from_group(UserPoolId=cognito.id, Username="eve", GroupName="admin")
    sync(membership_event(cognito, "admin_remove_user_from_group", "eve"))
    assert groups(sub) == ()

    # When the slow worker writes its older read last
    monkeypatch.setattr(sync_module, "read_groups", lambda **_: stale)
    sync(membership_event(cognito, "admin_add_user_to_group", "eve"))

    # Then the newer observation stands: the user is in no group
    assert groups(sub) == ()


def test_a_duplicate_delivery_leaves_the_same_membership(cognito, sync, capsys):
    # Given a user in `admin`, its record delivered once
    sub = cognito.create_user("fay")
    add(cognito, "fay", "admin")
    record = membership_event(cognito, "admin_add_user_to_group", "fay")
    sync(record)
    first = mirror(sub)
    capsys.readouterr()
    # When the very same record is delivered again
    response = sync(record)
    # Then it succeeds and the membership is the same, re-observed (never older)
    assert failed_ids(response) == []
    assert groups(sub) == ("admin",)
    assert mirror(sub).groups_observed_at >= first.groups_observed_at
    assert emitted_metrics(capsys.readouterr().out)["SyncGroupsWritten"] == 1


def test_a_user_in_more_groups_than_one_page_gets_them_all(cognito, sync):
    # Given a user in more groups than one AdminListGroupsForUser page holds
    from functions.common.cognito import GROUPS_PAGE

    sub = cognito.create_user("gus")
    names = [f"group-{index:03d}" for index in range(GROUPS_PAGE + 5)]
    add(cognito, "gus", *names)
    # When a membership record arrives
    sync(membership_event(cognito, "admin_add_user_to_group", "gus", group=names[-1]))
    # Then every group of every page is mirrored
    assert groups(sub) == tuple(names)


def test_a_deleted_user_never_regains_groups(cognito, sync):
    # Given a user with a mirrored membership, then deleted and tombstoned
    sub = cognito.create_user("hal")
    add(cognito, "hal", "admin")
    sync(membership_event(cognito, "admin_add_user_to_group", "hal"))
    cognito.idp.admin_delete_user(UserPoolId=cognito.id, Username="hal")
    sync(eventbridge(cloudtrail("admin_delete_user", pool=cognito.id, sub=sub, username="hal")))
    assert mirror(sub).is_tombstone
    # When a late membership record for the user arrives
    response = sync(membership_event(cognito, "admin_add_user_to_group", "hal"))
    # Then it is acknowledged and the tombstone holds no membership
    assert failed_ids(response) == []
    record = mirror(sub)
    assert record.is_tombstone and record.groups is None and record.groups_observed_at is None


# --- a group deleted -------------------------------------------------------------------------------


def test_a_deleted_group_leaves_every_members_row_and_nothing_else(cognito, sync, members):
    # Given two members of `admin` (one also in `support`) and a former member, as the mirror has them
    subs = {name: cognito.create_user(name) for name in ("ida", "jon", "kim")}
    add(cognito, "ida", "admin")
    add(cognito, "jon", "admin", "support")
    add(cognito, "kim", "support")
    for name in subs:
        sync(membership_event(cognito, "admin_add_user_to_group", name))
    for name in ("ida", "jon"):
        record_membership(members, "admin", subs[name], member=True, observed_at=1)
    record_membership(members, "admin", subs["kim"], member=False, observed_at=1)

    # When the group is deleted in Cognito and the DeleteGroup record arrives
    cognito.idp.delete_group(UserPoolId=cognito.id, GroupName="admin")
    response = sync(group_event(cognito, "admin"))

    # Then each member lost `admin` and kept its other groups; the former member is untouched
    assert failed_ids(response) == []
    assert groups(subs["ida"]) == ()
    assert groups(subs["jon"]) == ("support",)
    assert groups(subs["kim"]) == ("support",)


def test_a_deleted_group_leaves_more_members_than_concurrent_writers(cognito, sync, members):
    # Given more mirrored members of a group than the sync writes at a time, one of them a tombstone
    from functions.common.sync import REMOVAL_WORKERS
    from models.user import UserSnapshot

    subs = [f"member-{index:03d}" for index in range(3 * REMOVAL_WORKERS + 1)]
    for sub in subs:
        mirror_table().put_snapshot(UserSnapshot(sub, sub, {}, "CONFIRMED", True, 10, "test"))
        mirror_table().put_groups(sub, ["ops", "support"], observed_at=20, source="test")
        record_membership(members, "ops", sub, member=True, observed_at=20)
    mirror_table().put_tombstone(subs[0], observed_at=30, source="test")

    # When the DeleteGroup record of a group Cognito no longer has arrives
    response = sync(group_event(cognito, "ops"))

    # Then every live member lost it and kept the rest; the tombstone stays one
    assert failed_ids(response) == []
    assert {sub: groups(sub) for sub in subs[1:]} == dict.fromkeys(subs[1:], ("support",))
    assert mirror(subs[0]).is_tombstone and mirror(subs[0]).groups is None


def test_a_group_re_created_since_is_re_read_for_each_listed_member(cognito, sync, members):
    # Given two mirrored members of `admin`
    subs = {name: cognito.create_user(name) for name in ("lea", "max")}
    for name in subs:
        add(cognito, name, "admin")
        sync(membership_event(cognito, "admin_add_user_to_group", name))
        record_membership(members, "admin", subs[name], member=True, observed_at=1)
    # And the group deleted, re-created, and only `lea` added back, before the record arrives
    cognito.idp.delete_group(UserPoolId=cognito.id, GroupName="admin")
    add(cognito, "lea", "admin")

    # When the DeleteGroup record arrives
    sync(group_event(cognito, "admin"))

    # Then the member re-added later keeps the group, the other one lost it
    assert groups(subs["lea"]) == ("admin",)
    assert groups(subs["max"]) == ()


def test_a_delete_group_record_is_idempotent(cognito, sync, members):
    # Given a member of a deleted group, the record already applied
    sub = cognito.create_user("ned")
    add(cognito, "ned", "admin", "support")
    sync(membership_event(cognito, "admin_add_user_to_group", "ned"))
    record_membership(members, "admin", sub, member=True, observed_at=1)
    cognito.idp.delete_group(UserPoolId=cognito.id, GroupName="admin")
    sync(group_event(cognito, "admin"))
    # When it is delivered again / Then the row is the same
    assert failed_ids(sync(group_event(cognito, "admin"))) == []
    assert groups(sub) == ("support",)


def test_a_delete_group_record_without_the_members_table_fails_to_be_retried(cognito, sync, monkeypatch):
    from tests.support.fixtures import reset_process_state

    # Given a sync whose MIRROR_GROUP_MEMBERS_TABLE is not set
    monkeypatch.delenv("MIRROR_GROUP_MEMBERS_TABLE", raising=False)
    reset_process_state()
    # When a DeleteGroup record arrives / Then that record fails (retried, then the DLQ)
    assert failed_ids(sync(group_event(cognito, "admin"))) == ["msg-0"]


@pytest.mark.parametrize("call", ["CreateGroup", "UpdateGroup"])
def test_group_calls_that_change_no_membership_are_ignored(cognito, sync, call, capsys):
    # Given a CreateGroup or UpdateGroup record (a new group has no member; precedence or role
    # changes nobody's membership)
    event = group_event(cognito, "admin")
    event["detail"]["eventName"] = call
    capsys.readouterr()
    # When it arrives / Then it is acknowledged, counted as ignored, and nothing is written
    assert failed_ids(sync(event)) == []
    assert emitted_metrics(capsys.readouterr().out)["SyncIgnoredEventName"] == 1
    assert mirror_table().client.scan(TableName=mirror_table().name)["Items"] == []


def test_a_delete_group_record_naming_no_usable_group_is_counted_and_acknowledged(cognito, sync, capsys):
    # Given a DeleteGroup record whose group name is redacted
    event = group_event(cognito, "HIDDEN_FOR_SECURITY_REASONS")
    capsys.readouterr()
    # When it arrives / Then it is acknowledged and counted as naming nothing
    assert failed_ids(sync(event)) == []
    assert emitted_metrics(capsys.readouterr().out)["SyncUnidentified"] == 1
