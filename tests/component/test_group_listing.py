"""Listing a group's members from the mirror on moto: GET /users?group= (administrators only), the
library's `MirrorReader.iter_group_members` and `python -m functions.directory --group`. Membership
items are read shard by shard, each page's rows with one BatchGetItem; the row is the truth."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cognito_mirror import ConfigurationError, DirectoryQueryError, MirrorReader
from cognito_mirror.record import DIRECTORY_SHARDS, shard_of
from models.group_members import group_members_table
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.fixtures import GROUP_MEMBERS, TABLE
from tests.support.group_members import T0, store_member
from tests.support.helpers import body, get_users

ADMIN = "0a0a0a0a-0000-4000-8000-000000000001"
TENANT = "custom:tenant"


def members(group: str, count: int, *, prefix: str = "m") -> list[str]:
    """`count` users in `group`, their rows and membership items written; their subs in listing order."""
    subs = [f"{prefix}-{group}-{i:04d}" for i in range(count)]
    for sub in subs:
        store_member(sub, [group])
        group_members_table().put_membership(group, sub, member=True, observed_at=T0)
    return in_listing_order(subs)


def in_listing_order(subs: list[str]) -> list[str]:
    return sorted(subs, key=lambda sub: (shard_of(sub), sub))


def call(params: dict[str, str] | None, *, groups: str = "[admin]", sub: str = ADMIN) -> dict[str, Any]:
    return get_users(params, sub=sub, groups=groups)


def list_all(params: dict[str, str]) -> tuple[list[str], list[int]]:
    """Every sub of a listing, following cursors; and each page's size."""
    subs: list[str] = []
    sizes: list[int] = []
    cursor = None
    while True:
        answer = call({**params, **({"cursor": cursor} if cursor else {})})
        assert answer["statusCode"] == 200, answer
        page = body(answer)
        sizes.append(len(page["users"]))
        subs += [user["sub"] for user in page["users"]]
        cursor = page["cursor"]
        if cursor is None:
            return subs, sizes


@pytest.fixture(autouse=True)
def _live_admin(aws: None) -> None:
    mirror_table().put_snapshot(UserSnapshot(ADMIN, "admin", {}, "CONFIRMED", True, T0, "test"))


# --- GET /users?group= ------------------------------------------------------------------------------


def test_an_admin_lists_a_group_across_shards_page_by_page_in_a_stable_order() -> None:
    # Given 37 members of ops (spread over the shards) and 5 of another group
    ops = members("ops", 37)
    members("sales", 5)
    assert len({shard_of(sub) for sub in ops}) > 1
    # When an admin lists ops 5 at a time
    subs, sizes = list_all({"group": "ops", "limit": "5"})
    # Then every member comes once, in (shard, sub) order, every page but the last full
    assert subs == ops
    assert sizes[:-1] == [5] * (len(sizes) - 1) and sizes[-1] <= 5


def test_stale_memberships_are_passed_over_and_a_page_still_fills() -> None:
    # Given 12 members of ops, and 6 stale items: users who left ops (their row says so), a deleted
    # user, a membership already marked removed, an item whose user has no row
    ops = members("ops", 12)
    left = members("ops", 3, prefix="left")
    for sub in left:
        store_member(sub, ["sales"], observed=T0 + 1)
    (deleted,) = members("ops", 1, prefix="deleted")
    mirror_table().put_tombstone(deleted, observed_at=T0 + 1, source="test")
    (removed,) = members("ops", 1, prefix="removed")
    group_members_table().put_membership("ops", removed, member=False, observed_at=T0 + 1)
    group_members_table().put_membership("ops", "no-row-0001", member=True, observed_at=T0)
    # When an admin lists ops 4 at a time
    subs, sizes = list_all({"group": "ops", "limit": "4"})
    # Then only the live members whose row holds ops are listed, and pages are full but the last
    assert subs == ops
    assert sizes[:-1] == [4] * (len(sizes) - 1)


def test_a_group_answers_profiles_in_the_me_shape_and_an_empty_group_is_an_empty_list() -> None:
    (sub,) = members("ops", 1)
    found = body(call({"group": "ops"}))
    assert found["cursor"] is None and [user["sub"] for user in found["users"]] == [sub]
    assert {"sub", "username", "attributes", "status", "enabled", "updated_at"} <= set(found["users"][0])
    assert body(call({"group": "nobody-here"})) == {"users": [], "cursor": None}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"group": "ops", "email": "a@example.com"}, "group goes alone"),
        ({"group": "ops", "attribute": TENANT, "value": "acme"}, "group goes alone"),
        ({"group": "ops", "unverified": "true"}, "group goes alone"),
        ({"group": ""}, "group must be a Cognito group name"),
        ({"group": "two words"}, "group must be a Cognito group name"),
        ({"group": "x" * 129}, "group must be a Cognito group name"),
        ({"group": "ops", "limit": "101"}, "limit must be a whole number in 1..100"),
        ({"group": "ops", "cursor": "a.b.c!"}, "malformed cursor"),
    ],
)
def test_bad_group_queries_are_400_naming_what_is_allowed(params: dict[str, str], names: str) -> None:
    answer = call(params)
    assert answer["statusCode"] == 400
    assert names in body(answer)["message"]


def test_a_cursor_serves_only_the_listing_that_issued_it() -> None:
    # Given a cursor of an ops listing, and one of a tenant listing
    members("ops", 8)
    members("sales", 8)
    ops_cursor = body(call({"group": "ops", "limit": "2"}))["cursor"]
    for i in range(3):
        mirror_table().put_snapshot(
            UserSnapshot(f"t-{i}", f"t-{i}", {TENANT: "acme"}, "CONFIRMED", True, T0, "test")
        )
    tenant_cursor = body(call({"attribute": TENANT, "value": "acme", "limit": "1"}))["cursor"]
    assert ops_cursor and tenant_cursor
    # When each is used for another listing / Then 400, nothing listed
    for params in (
        {"group": "sales", "cursor": ops_cursor},
        {"group": "ops", "cursor": tenant_cursor},
        {"attribute": TENANT, "value": "acme", "cursor": ops_cursor},
    ):
        answer = call(params)
        assert answer["statusCode"] == 400, params
        assert "invalid for this query" in body(answer)["message"]


@pytest.mark.parametrize("groups", ["[]", "[tenant-admin]", "[ops]"])
def test_only_administrators_list_a_group(groups: str) -> None:
    # Given a caller without the admin group (a tenant admin with a tenant, a member of ops)
    own = "0a0a0a0a-0000-4000-8000-000000000009"
    mirror_table().put_snapshot(UserSnapshot(own, "own", {TENANT: "acme"}, "CONFIRMED", True, T0, "test"))
    members("ops", 3)
    # When they list ops / Then 403, nothing else revealed
    answer = call({"group": "ops"}, groups=groups, sub=own)
    assert answer["statusCode"] == 403
    assert body(answer)["message"] == "Forbidden"


# --- the library ------------------------------------------------------------------------------------


def counted_reader(calls: list[str], **options: Any) -> MirrorReader:
    client = boto3.client("dynamodb")
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    return MirrorReader(TABLE, dynamodb=client, group_members_table=GROUP_MEMBERS, **options)


def test_the_library_lists_a_group_lazily_one_batch_read_per_page() -> None:
    # Given 30 members of ops
    ops = members("ops", 30)
    calls: list[str] = []
    # When the library iterates ops in pages of 10
    found = [profile.sub for profile in counted_reader(calls).iter_group_members("ops", page_size=10)]
    # Then every member, in order; one BatchGetItem per page, one Query per shard read at most
    assert found == ops
    assert calls.count("BatchGetItem") == 3
    assert calls.count("Query") <= DIRECTORY_SHARDS + 3
    assert set(calls) == {"Query", "BatchGetItem"}


def test_the_library_refuses_a_bad_group_before_reading_and_needs_the_table_name() -> None:
    calls: list[str] = []
    with pytest.raises(DirectoryQueryError):
        counted_reader(calls).iter_group_members("two words")
    with pytest.raises(ConfigurationError, match="MIRROR_GROUP_MEMBERS_TABLE"):
        MirrorReader(TABLE, dynamodb=boto3.client("dynamodb")).iter_group_members("ops")
    assert calls == []


def test_the_readers_settings_name_the_group_members_table() -> None:
    # Given the environment of the tests (MIRROR_GROUP_MEMBERS_TABLE set) / Then the reader has it
    members("ops", 2)
    assert len(list(MirrorReader.from_env().iter_group_members("ops"))) == 2


# --- the command ------------------------------------------------------------------------------------


def test_the_command_lists_a_group_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    from functions.directory import EXIT_FOUND, EXIT_NONE, main

    ops = members("ops", 3)
    assert main(["--group", "ops", "--json"]) == EXIT_FOUND
    listed = json.loads(capsys.readouterr().out)
    assert [user["sub"] for user in listed["users"]] == ops and listed["complete"] is True
    assert main(["--group", "empty"]) == EXIT_NONE


def test_the_command_refuses_a_bad_group_name_as_usage(capsys: pytest.CaptureFixture[str]) -> None:
    from functions.directory import EXIT_USAGE, main

    assert main(["--group", "two words"]) == EXIT_USAGE
    assert "group name" in capsys.readouterr().err


def test_the_command_without_the_group_members_table_cannot_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.directory import EXIT_CANNOT_RUN, main

    monkeypatch.delenv("MIRROR_GROUP_MEMBERS_TABLE")
    assert main(["--group", "ops"]) == EXIT_CANNOT_RUN
    assert "MIRROR_GROUP_MEMBERS_TABLE" in capsys.readouterr().err
