"""Group membership in the backfill command and the scheduled reconcile, on moto (Cognito + DynamoDB).

moto runs the engine with `--write-mode put` (profile through put_snapshot, membership through
put_groups); the PartiQL forms, and a statement that carries both, are tested on DynamoDB Local
(tests/integration/test_backfill_ddb_local.py).
"""

from __future__ import annotations

import json
import threading
from typing import Any
from unittest import mock

import pytest

from functions.backfill.cli import main
from functions.common.backfill import membership as membership_module
from functions.common.backfill.listing import SegmentLister
from models.table import mirror_table
from models.user import now_us
from tests.support.helpers import FakeLambdaContext

# What a run writes and counts, not its pace (the engine's Cognito calls are not paced at the quotas).
pytestmark = pytest.mark.usefixtures("unpaced")

POOL_GROUPS = ("admin", "tenant-admin")  # the test pool's own groups (scripts/user_pool.py), empty


def run_cli(cognito: Any, *args: str) -> int:
    return main(["--user-pool-id", cognito.id, "--table", "mirror-test", "--write-mode", "put", *args])


def summary_of(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def create_group(cognito: Any, name: str, usernames: list[str]) -> None:
    """Put `usernames` in the group `name` (created unless the pool has it: `admin`, `tenant-admin`)."""
    if name not in POOL_GROUPS:
        cognito.idp.create_group(UserPoolId=cognito.id, GroupName=name)
    for username in usernames:
        cognito.idp.admin_add_user_to_group(UserPoolId=cognito.id, Username=username, GroupName=name)


def stored_groups_of(ddb: Any, sub: str) -> list[str] | None:
    item = ddb.get_item(TableName="mirror-test", Key={"sub": {"S": sub}}, ConsistentRead=True)["Item"]
    names = item.get("groups", {}).get("SS")
    return sorted(names) if names is not None else None


def stored_groups(raw_item: Any, sub: str) -> tuple[list[str] | None, bool]:
    """The row's group names (None: no set) and whether its membership is known."""
    item = raw_item(sub)
    names = item.get("groups", {}).get("SS")
    return (sorted(names) if names is not None else None), "groups_observed_at" in item


def test_fill_mirrors_every_users_groups_across_pages_of_groups_and_of_members(
    cognito: Any, raw_item: Any, capsys: Any
) -> None:
    # Given 70 users: 65 in "big" (two ListUsersInGroup pages), one also in 62 other groups (two
    # ListGroups pages), and 5 in no group
    subs = {f"user{i:02d}": cognito.create_user(f"user{i:02d}", email=f"u{i}@example.com") for i in range(70)}
    create_group(cognito, "big", [f"user{i:02d}" for i in range(65)])
    many = [f"team-{i:02d}" for i in range(62)]
    for name in many:
        create_group(cognito, name, ["user00"])

    # When the backfill fills the empty mirror
    code = run_cli(cognito, "--json")

    # Then every row holds its user's groups, and users in no group are known to be in none
    summary = summary_of(capsys)
    assert code == 0
    assert stored_groups(raw_item, subs["user00"]) == (sorted(["big", *many]), True)
    assert stored_groups(raw_item, subs["user64"]) == (["big"], True)
    assert stored_groups(raw_item, subs["user65"]) == (None, True)
    assert (summary["written"], summary["groups_written"]) == (70, 70)
    # And membership cost a call per page: 2 of ListGroups (65 groups), 2 for "big", 1 per other group
    assert summary["group_calls"] == 2 + 2 + 62 + len(POOL_GROUPS)


def test_verify_reports_group_drift_then_none_after_a_fill(cognito: Any, raw_item: Any, capsys: Any) -> None:
    # Given a mirror filled without membership (groups unknown), and two users in "admin"
    alice, bob = cognito.create_user("alice"), cognito.create_user("bob")
    cognito.create_user("carol")
    create_group(cognito, "admin", ["alice", "bob"])
    assert run_cli(cognito, "--no-groups", "--json") == 0
    no_groups = summary_of(capsys)
    assert stored_groups(raw_item, alice) == (None, False)

    # When verify runs, then a fill, then verify again
    first = run_cli(cognito, "--verify", "--json"), summary_of(capsys)
    run_cli(cognito, "--json")
    summary_of(capsys)
    second = run_cli(cognito, "--verify", "--json"), summary_of(capsys)
    # And once more after bob left "admin" in Cognito
    cognito.idp.admin_remove_user_from_group(UserPoolId=cognito.id, Username="bob", GroupName="admin")
    third = run_cli(cognito, "--verify", "--json"), summary_of(capsys)

    # Then --no-groups made no membership call, the first verify counts every row's groups as
    # unknown (exit 3), the second finds none, the third one stale row; verify wrote nothing
    assert no_groups["group_calls"] == 0
    assert (first[0], first[1]["groups_unknown"], first[1]["groups_stale"], first[1]["missing"]) == (
        3,
        3,
        0,
        0,
    )
    assert (second[0], second[1]["groups_unknown"], second[1]["groups_stale"]) == (0, 0, 0)
    assert (third[0], third[1]["groups_unknown"], third[1]["groups_stale"]) == (3, 0, 1)
    assert stored_groups(raw_item, bob) == (["admin"], True)


def test_a_membership_the_sync_wrote_during_the_run_is_never_overwritten(
    cognito: Any, raw_item: Any, capsys: Any
) -> None:
    # Given a filled mirror where alice is in "admin"
    alice = cognito.create_user("alice")
    create_group(cognito, "admin", ["alice"])
    assert run_cli(cognito, "--json") == 0
    summary_of(capsys)
    listed = membership_module.MembershipLister.run

    def then_the_sync_removes_her(self: Any) -> Any:
        memberships = listed(self)  # the run listed her in "admin" ...
        # ... then she leaves it, and the sync observes and writes that, before the run's writes
        cognito.idp.admin_remove_user_from_group(UserPoolId=cognito.id, Username="alice", GroupName="admin")
        mirror_table().put_groups(alice, (), observed_at=now_us(), source="attribute_sync")
        return memberships

    # When the backfill runs again with that happening mid-run
    with mock.patch.object(membership_module.MembershipLister, "run", then_the_sync_removes_her):
        code = run_cli(cognito, "--json")

    # Then the sync's newer observation stands: the run's older one is not written over it
    summary = summary_of(capsys)
    assert code == 0
    assert stored_groups(raw_item, alice) == (None, True)
    assert (summary["groups_written"], summary["groups_stale"]) == (0, 0)


def test_a_deleted_group_leaves_its_members_at_the_next_run(cognito: Any, raw_item: Any, capsys: Any) -> None:
    # Given a filled mirror where alice is in "ops" and "admin"
    alice = cognito.create_user("alice")
    create_group(cognito, "ops", ["alice"])
    create_group(cognito, "admin", ["alice"])
    assert run_cli(cognito, "--json") == 0
    summary_of(capsys)
    # And "ops" deleted, and a group ListGroups still names but that is gone by ListUsersInGroup
    cognito.idp.delete_group(UserPoolId=cognito.id, GroupName="ops")
    real = membership_module.MembershipLister._group_names

    def with_a_ghost(self: Any) -> Any:
        names = real(self)
        return None if names is None else [*names, "ghost"]

    # When the backfill runs again
    with mock.patch.object(membership_module.MembershipLister, "_group_names", with_a_ghost):
        code = run_cli(cognito, "--json")

    # Then the run completes, and alice's row holds only the group she is still in
    summary = summary_of(capsys)
    assert (code, summary["complete"], summary["groups_stale"]) == (0, True, 1)
    assert stored_groups(raw_item, alice) == (["admin"], True)


def test_a_tombstone_never_regains_groups(cognito: Any, raw_item: Any, capsys: Any, monkeypatch: Any) -> None:
    # Given a user in "admin" whose row is a tombstone, and AdminGetUser no longer finding her
    from functions.common.backfill import confirm

    sub = cognito.create_user("gone")
    create_group(cognito, "admin", ["gone"])
    mirror_table().put_tombstone(sub, observed_at=1, source="attribute_sync")
    monkeypatch.setattr(confirm, "read_user", lambda **kwargs: None)

    # When the backfill runs
    code = run_cli(cognito, "--json")

    # Then the tombstone stands, with no membership
    summary = summary_of(capsys)
    assert (code, summary["groups_written"]) == (0, 0)
    item = raw_item(sub)
    assert item["deleted"]["BOOL"] is True and "groups" not in item and "groups_observed_at" not in item


def test_reconcile_mirrors_membership_and_emits_group_drift(
    cognito: Any, raw_item: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # Given rows written by a trigger (groups unknown) for users in "admin" and in no group
    from functions.reconcile import handler

    monkeypatch.setenv("MIRROR_RECONCILE_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MIRROR_RECONCILE_WRITE_MODE", "put")
    monkeypatch.setenv("MIRROR_RECONCILE_WORKERS", "4")
    admin, plain = cognito.create_user("admin-user"), cognito.create_user("plain-user")
    create_group(cognito, "admin", ["admin-user"])
    assert run_cli(cognito, "--no-groups", "--json") == 0
    capsys.readouterr()

    # When the scheduled reconcile runs
    result = handler({"source": "aws.events"}, FakeLambdaContext(remaining_ms=600_000))

    # Then both rows get their membership, counted as drift and emitted as metrics
    assert (result["groups_unknown"], result["groups_written"], result["complete"]) == (2, 2, True)
    assert stored_groups(raw_item, admin) == (["admin"], True)
    assert stored_groups(raw_item, plain) == (None, True)
    out = capsys.readouterr().out
    blob = next(json.loads(line) for line in out.splitlines() if line.startswith("{") and "_aws" in line)
    assert blob["DriftGroupsUnknown"] in (2.0, [2.0]) and blob["ReconcileGroupsWritten"] in (2.0, [2.0])


def test_ctrl_c_while_listing_the_membership_stops_untouched_and_resumes(
    cognito: Any, ddb: Any, tmp_path: Any, capsys: Any
) -> None:
    # Given users in a group, and a run interrupted (as by Ctrl-C) while it lists the membership
    subs = [cognito.create_user(f"user{i}") for i in range(3)]
    create_group(cognito, "admin", ["user0"])
    path, stop = str(tmp_path / "cp.sqlite"), threading.Event()
    listed = membership_module.MembershipLister.run

    def interrupted(self: Any) -> Any:
        stop.set()
        return listed(self)

    args = ["--user-pool-id", cognito.id, "--table", "mirror-test", "--write-mode", "put"]
    with mock.patch.object(membership_module.MembershipLister, "run", interrupted):
        code = main([*args, "--checkpoint", path, "--json"], stop=stop)
    first, rows_after_first = summary_of(capsys), ddb.scan(TableName="mirror-test")["Count"]

    # When it is run again with the same checkpoint
    again = run_cli(cognito, "--checkpoint", path, "--json")

    # Then the first run stopped having written nothing (exit 130), the second wrote everyone
    assert (code, first["interrupted"], first["written"], rows_after_first) == (130, True, 0, 0)
    assert again == 0 and summary_of(capsys)["written"] == 3
    assert stored_groups_of(ddb, subs[0]) == ["admin"]


def test_a_role_without_list_groups_is_one_clear_line(cognito: Any, capsys: Any) -> None:
    # Given Cognito refusing ListGroups to the caller's role
    from botocore.exceptions import ClientError

    real = SegmentLister.call

    def refuse_list_groups(self: Any, operation: str, *args: Any, **kwargs: Any) -> Any:
        if operation == "ListGroups":
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
            with mock.patch.object(self.client, "list_groups", side_effect=ClientError(error, "ListGroups")):
                return real(self, operation, *args, **kwargs)
        return real(self, operation, *args, **kwargs)

    # When the backfill runs
    with mock.patch.object(SegmentLister, "call", refuse_list_groups):
        code = run_cli(cognito)

    # Then it names the missing action in one line and exits 4 (--no-groups would run without it)
    assert code == 4
    assert capsys.readouterr().err.strip().splitlines() == [
        "backfill: error: not allowed to call ListGroups (AccessDeniedException): "
        "grant cognito-idp:ListGroups"
    ]


def test_a_user_whose_writes_fail_is_failed_once(cognito: Any, capsys: Any) -> None:
    # Given two users in "admin", and DynamoDB refusing every write of one of them
    from models.errors import TableUnavailableError
    from models.table import MirrorTable

    subs = {name: cognito.create_user(name) for name in ("ok", "refused")}
    create_group(cognito, "admin", list(subs))
    real_put, real_groups = MirrorTable.put_snapshot, MirrorTable.put_groups

    def refuse(real: Any) -> Any:
        def write(table: MirrorTable, first: Any, *args: Any, **kwargs: Any) -> Any:
            if subs["refused"] in (first, getattr(first, "sub", None)):
                raise TableUnavailableError("mirror write failed: InternalServerError")
            return real(table, first, *args, **kwargs)

        return write

    # When the backfill runs
    with (
        mock.patch.object(MirrorTable, "put_snapshot", refuse(real_put)),
        mock.patch.object(MirrorTable, "put_groups", refuse(real_groups)),
    ):
        code = run_cli(cognito, "--json")

    # Then the user is failed once (profile and membership are one user's writes), the other written
    summary = summary_of(capsys)
    assert code == 1
    assert (summary["failed"], summary["failed_subs"]) == (1, [subs["refused"]])
    assert (summary["written"], summary["groups_written"]) == (1, 1)
