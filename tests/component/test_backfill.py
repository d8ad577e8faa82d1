"""The admin backfill command and its engine, on moto (Cognito + DynamoDB).

moto cannot parse PartiQL statements with parameters, so these runs use `--write-mode put`
(conditional PutItem through put_snapshot); the PartiQL path is tested on DynamoDB Local in
test_backfill_ddb_local.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from functions.backfill.cli import main
from functions.common.backfill.checkpoint import CHECKPOINT_APPLICATION_ID, CHECKPOINT_SCHEMA, Checkpoint
from functions.common.backfill.engine import Engine
from functions.common.backfill.listing import HEX, segment_prefixes
from functions.common.backfill.options import Mode, Options, WriteMode
from functions.common.backfill.rate_limit import RateLimiter
from models.errors import TableUnavailableError
from models.table import MirrorTable, mirror_table
from models.user import UserSnapshot, now_us

# What a run writes and counts, not its pace (the engine's Cognito calls are not paced at the quotas).
pytestmark = pytest.mark.usefixtures("unpaced", "engine_lags_kept")


def run_cli(cognito: Any, *args: str) -> int:
    return main(["--user-pool-id", cognito.id, "--table", "mirror-test", "--write-mode", "put", *args])


def summary_of(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def make_users(cognito: Any, n: int) -> dict[str, str]:
    """`n` users; returns username -> sub."""
    return {f"user{i:03d}": cognito.create_user(f"user{i:03d}", email=f"u{i}@example.com") for i in range(n)}


def live_subs(ddb: Any) -> list[str]:
    items = ddb.scan(TableName="mirror-test")["Items"]
    return sorted(i["sub"]["S"] for i in items if not i.get("deleted", {}).get("BOOL"))


def stored_email(raw_item: Any, sub: str) -> str:
    return str(raw_item(sub)["attributes"]["M"]["email"]["S"])


def engine_options(cognito: Any, **overrides: Any) -> Options:
    base: dict[str, Any] = {"user_pool_id": cognito.id, "write_mode": WriteMode.PUT, "workers": 4}
    return Options(**(base | overrides))


def test_fills_an_empty_mirror_with_every_user(cognito: Any, ddb: Any, raw_item: Any, capsys: Any) -> None:
    # Given a pool of 130 users (three ListUsers pages in some segments) and an empty mirror
    users = make_users(cognito, 130)

    # When the backfill runs
    code = run_cli(cognito, "--json")

    # Then every user is in the mirror once, with its attributes, and the summary says so
    summary = summary_of(capsys)
    assert code == 0
    assert live_subs(ddb) == sorted(users.values())
    assert stored_email(raw_item, users["user007"]) == "u7@example.com"
    assert raw_item(users["user007"])["source"]["S"] == "backfill"
    assert (summary["listed"], summary["written"], summary["missing"], summary["failed"]) == (
        130,
        130,
        130,
        0,
    )
    assert summary["complete"] is True


@pytest.mark.parametrize("segments", ["1", "16", "256"])
def test_segments_partition_the_pool_without_overlap(
    cognito: Any, ddb: Any, capsys: Any, segments: str
) -> None:
    # Given 70 users
    users = make_users(cognito, 70)

    # When the pool is listed in 1, 16 or 256 sub-prefix segments
    code = run_cli(cognito, "--segments", segments, "--json")

    # Then each user is listed exactly once
    assert code == 0
    assert summary_of(capsys)["listed"] == 70
    assert live_subs(ddb) == sorted(users.values())


def test_leaves_newer_trigger_written_rows_alone(cognito: Any, raw_item: Any, capsys: Any) -> None:
    # Given a user whose row a trigger wrote later than the backfill will observe it
    sub = cognito.create_user("alice", email="old@example.com")
    future = now_us() + 60_000_000
    trigger_row = UserSnapshot(
        sub, "alice", {"email": "new@example.com"}, "CONFIRMED", True, future, "trigger"
    )
    mirror_table().put_snapshot(trigger_row)

    # When the backfill runs
    code = run_cli(cognito, "--json")

    # Then the newer row is kept and counted as skipped
    summary = summary_of(capsys)
    assert code == 0
    assert stored_email(raw_item, sub) == "new@example.com"
    assert raw_item(sub)["source"]["S"] == "trigger"
    assert (summary["skipped"], summary["written"]) == (1, 0)


def test_verify_reports_a_tombstone_of_a_listed_user_as_drift(
    cognito: Any, raw_item: Any, capsys: Any
) -> None:
    # Given a live user whose row is a tombstone (a deletion wrongly recorded)
    sub = cognito.create_user("bob", email="bob@example.com")
    mirror_table().put_tombstone(sub, observed_at=1, source="sync")

    # When the mirror is verified
    code = run_cli(cognito, "--verify", "--json")

    # Then it is drift of its own kind (exit 3), and nothing is written
    summary = summary_of(capsys)
    assert code == 3
    assert (summary["tombstoned"], summary["revived"], summary["skipped"]) == (1, 0, 0)
    assert raw_item(sub)["deleted"]["BOOL"] is True


def test_fill_revives_a_wrong_tombstone_once_cognito_confirms_the_user(
    cognito: Any, raw_item: Any, capsys: Any
) -> None:
    # Given a live user whose row is a tombstone
    sub = cognito.create_user("bob", email="bob@example.com")
    mirror_table().put_tombstone(sub, observed_at=1, source="sync")

    # When the backfill runs, then runs again
    first_code = run_cli(cognito, "--json")
    first = summary_of(capsys)
    run_cli(cognito, "--json")
    second = summary_of(capsys)

    # Then the first run revives the user as Cognito has it (no TTL left), the second finds no drift
    assert first_code == 0
    assert (first["tombstoned"], first["revived"], first["written"]) == (1, 1, 0)
    item = raw_item(sub)
    assert item["deleted"]["BOOL"] is False and "expires_at" not in item
    assert stored_email(raw_item, sub) == "bob@example.com"
    assert (second["tombstoned"], second["revived"], second["unchanged"]) == (0, 0, 1)


def test_a_tombstone_of_a_user_gone_since_the_listing_stays(
    cognito: Any, raw_item: Any, capsys: Any, monkeypatch: Any
) -> None:
    # Given a listed user whose row is a tombstone, and AdminGetUser no longer finding it
    from functions.common.backfill import confirm

    sub = cognito.create_user("bob", email="bob@example.com")
    mirror_table().put_tombstone(sub, observed_at=1, source="sync")
    monkeypatch.setattr(confirm, "read_user", lambda **kwargs: None)

    # When the backfill runs
    code = run_cli(cognito, "--json")

    # Then the tombstone stands (no evidence that the user exists now)
    summary = summary_of(capsys)
    assert code == 0
    assert (summary["tombstoned"], summary["revived"], summary["skipped"]) == (1, 0, 1)
    assert raw_item(sub)["deleted"]["BOOL"] is True


def test_stale_rows_are_rewritten_and_unchanged_rows_are_not(
    cognito: Any, ddb: Any, raw_item: Any, capsys: Any
) -> None:
    # Given a filled mirror, where one row then went stale (an e-mail change the mirror missed)
    stale = cognito.create_user("stale", email="before@example.com")
    synced = cognito.create_user("synced", email="same@example.com")
    assert run_cli(cognito, "--json") == 0
    synced_at = raw_item(synced)["observed_at"]["N"]
    cognito.idp.admin_update_user_attributes(
        UserPoolId=cognito.id,
        Username="stale",
        UserAttributes=[{"Name": "email", "Value": "now@example.com"}],
    )
    capsys.readouterr()

    # When the backfill runs again
    run_cli(cognito, "--json")

    # Then the stale row is repaired and the synced one is not rewritten
    summary = summary_of(capsys)
    assert stored_email(raw_item, stale) == "now@example.com"
    assert raw_item(synced)["observed_at"]["N"] == synced_at
    assert (summary["stale"], summary["unchanged"], summary["written"]) == (1, 1, 1)


def test_a_failed_write_is_listed_and_exits_1(cognito: Any, ddb: Any, capsys: Any) -> None:
    # Given three users, and DynamoDB refusing the write of one of them
    users = make_users(cognito, 3)
    real_put = MirrorTable.put_snapshot

    def refusing_put(table: MirrorTable, snapshot: UserSnapshot) -> Any:
        if snapshot.sub == users["user001"]:
            raise TableUnavailableError("mirror write failed: InternalServerError")
        return real_put(table, snapshot)

    # When the backfill runs
    with mock.patch.object(MirrorTable, "put_snapshot", refusing_put):
        code = run_cli(cognito, "--json")

    # Then the others are written, the failed one is named in the summary, and the exit code is 1
    summary = summary_of(capsys)
    assert code == 1
    assert (summary["written"], summary["failed"], summary["failed_subs"]) == (2, 1, [users["user001"]])
    assert live_subs(ddb) == sorted(s for name, s in users.items() if name != "user001")


def test_dry_run_writes_nothing(cognito: Any, ddb: Any, capsys: Any) -> None:
    # Given users and an empty mirror
    make_users(cognito, 5)

    # When the backfill runs with --dry-run
    code = run_cli(cognito, "--dry-run", "--json")

    # Then it reports what it would write, and the table is still empty
    summary = summary_of(capsys)
    assert code == 0
    assert ddb.scan(TableName="mirror-test")["Count"] == 0
    assert (summary["missing"], summary["written"]) == (5, 0)


def test_verify_reports_planted_drift_exactly_and_exits_3(cognito: Any, ddb: Any, capsys: Any) -> None:
    # Given a mirror with one missing row, one stale row and one orphan (deleted user)
    users = make_users(cognito, 6)
    assert run_cli(cognito, "--json") == 0
    ddb.delete_item(TableName="mirror-test", Key={"sub": {"S": users["user000"]}})
    ddb.delete_item(TableName="mirror-test", Key={"sub": {"S": users["user001"]}})
    mirror_table().put_snapshot(
        UserSnapshot(users["user001"], "user001", {"email": "stale@example.com"}, "CONFIRMED", True, 2, "t")
    )
    cognito.idp.admin_delete_user(UserPoolId=cognito.id, Username="user002")
    capsys.readouterr()

    # When --verify runs
    code = run_cli(cognito, "--verify", "--json")

    # Then it reports exactly that drift, writes nothing and exits 3
    summary = summary_of(capsys)
    assert code == 3
    assert (summary["missing"], summary["stale"], summary["orphaned"]) == (1, 1, 1)
    assert (summary["unchanged"], summary["written"], summary["pruned"]) == (3, 0, 0)
    assert users["user000"] not in live_subs(ddb)


def test_verify_exits_0_without_drift(cognito: Any, capsys: Any) -> None:
    # Given a freshly filled mirror
    make_users(cognito, 4)
    assert run_cli(cognito, "--json") == 0
    capsys.readouterr()

    # When --verify runs
    code = run_cli(cognito, "--verify")

    # Then there is no drift
    assert code == 0
    assert "missing 0  stale 0  orphaned 0" in capsys.readouterr().out


def test_prune_tombstones_only_deleted_users(cognito: Any, ddb: Any, raw_item: Any, capsys: Any) -> None:
    # Given a filled mirror, then one user deleted in Cognito
    users = make_users(cognito, 5)
    assert run_cli(cognito, "--json") == 0
    cognito.idp.admin_delete_user(UserPoolId=cognito.id, Username="user003")
    capsys.readouterr()

    # When the backfill runs with --prune
    code = run_cli(cognito, "--prune", "--json")

    # Then only the deleted user's row becomes a tombstone
    summary = summary_of(capsys)
    assert code == 0
    assert raw_item(users["user003"])["deleted"]["BOOL"] is True
    assert live_subs(ddb) == sorted(s for name, s in users.items() if name != "user003")
    assert (summary["orphaned"], summary["pruned"]) == (1, 1)


def test_prune_keeps_a_row_whose_user_cognito_still_has(cognito: Any, raw_item: Any) -> None:
    # Given a mirror row that the listing did not see, but whose user exists (created after listing)
    sub = cognito.create_user("late", email="late@example.com")
    mirror_table().put_snapshot(
        UserSnapshot(sub, "late", {"email": "late@example.com"}, "CONFIRMED", True, 1, "trigger")
    )
    checkpoint = Checkpoint()
    checkpoint.bind({"test": "prune-confirm"})
    engine = Engine(engine_options(cognito, prune=True), checkpoint, sleep=lambda s: None)

    # When the orphan check looks at it (without that user in the listed set)
    engine.scanner.orphans(list(mirror_table().scan_records(0, 1)))

    # Then Cognito's answer keeps it alive
    assert raw_item(sub)["deleted"]["BOOL"] is False
    assert checkpoint.size("pruned") == 0
    checkpoint.close()


def test_never_prunes_on_a_partial_listing(cognito: Any, ddb: Any, raw_item: Any) -> None:
    # Given a mirror row of a deleted user, and a run stopped before its listing completed
    make_users(cognito, 3)
    mirror_table().put_snapshot(UserSnapshot("gone-sub", "gone", {}, "CONFIRMED", True, 1, "t"))
    checkpoint = Checkpoint()
    checkpoint.bind({"test": "partial"})
    engine = Engine(engine_options(cognito, prune=True), checkpoint, should_stop=lambda: True)

    # When it runs
    summary = engine.run()

    # Then nothing is pruned and the summary says why
    assert summary.complete is False
    assert raw_item("gone-sub")["deleted"]["BOOL"] is False
    assert summary.prune_skipped == "the listing did not complete"
    checkpoint.close()


def test_ctrl_c_then_resume_completes_with_every_user_once(
    cognito: Any, ddb: Any, tmp_path: Any, capsys: Any
) -> None:
    # Given 200 users and a run interrupted (as by Ctrl-C) after a few pages
    users = make_users(cognito, 200)
    path = str(tmp_path / "cp.sqlite")
    stop = threading.Event()
    pages = 0

    def count_page(_: int) -> None:
        nonlocal pages
        pages += 1
        if pages == 3:
            stop.set()

    code = main(
        [
            *("--user-pool-id", cognito.id, "--table", "mirror-test", "--write-mode", "put"),
            *("--segments", "1", "--checkpoint", path, "--json"),
        ],
        stop=stop,
        on_page=count_page,
    )
    first = summary_of(capsys)
    assert code == 130
    assert first["interrupted"] is True
    assert 0 < len(live_subs(ddb)) < 200
    assert os.path.exists(path)

    # When it is run again with the same checkpoint
    code = run_cli(cognito, "--segments", "1", "--checkpoint", path, "--json")

    # Then it finishes: every user present once, each counted once, checkpoint removed
    summary = summary_of(capsys)
    assert code == 0
    assert live_subs(ddb) == sorted(users.values())
    assert (summary["listed"], summary["written"], summary["missing"]) == (200, 200, 200)
    assert summary["resumed_segments"] == 1
    assert not os.path.exists(path)


def test_a_crash_mid_run_resumes_with_nothing_lost_or_counted_twice(
    cognito: Any, ddb: Any, tmp_path: Any
) -> None:
    # Given a run that dies (like SIGKILL) after writing a page but before checkpointing it
    users = make_users(cognito, 150)
    path = str(tmp_path / "cp.sqlite")
    options = engine_options(cognito, segments=1)
    checkpoint = Checkpoint(path)
    checkpoint.bind(options.identity("mirror-test"))
    real_commit = Checkpoint.commit_page
    calls = 0

    def dying_commit(self: Checkpoint, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise SystemExit("killed")
        real_commit(self, *args, **kwargs)

    with mock.patch.object(Checkpoint, "commit_page", dying_commit), pytest.raises(SystemExit):
        Engine(options, checkpoint).run()
    checkpoint.close()

    # When a new process resumes from the file
    resumed = Checkpoint(path)
    assert resumed.bind(options.identity("mirror-test")) is True
    summary = Engine(options, resumed).run()
    resumed.close()

    # Then every user is present once and counted once (the re-read page is seen as in sync)
    assert summary.complete is True
    assert live_subs(ddb) == sorted(users.values())
    assert summary.listed == 150
    assert summary.written + summary.unchanged == 150


def throttled_engine(cognito: Any, throttles: int) -> tuple[Engine, Checkpoint, dict[str, str], list[float]]:
    """An engine over 10 users whose first `throttles` ListUsers calls answer TooManyRequests."""
    users = make_users(cognito, 10)
    options = engine_options(cognito, segments=1)
    checkpoint = Checkpoint()
    checkpoint.bind(options.identity("mirror-test"))
    delays: list[float] = []
    engine = Engine(options, checkpoint, sleep=delays.append)
    real = engine.lister.client.list_users
    refusals = iter([True] * throttles)

    def busy(**kwargs: Any) -> Any:
        if next(refusals, False):
            raise ClientError(
                {"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "ListUsers"
            )
        return real(**kwargs)

    engine.lister.client.list_users = busy
    return engine, checkpoint, users, delays


def test_the_listing_client_leaves_retrying_to_the_run_and_has_a_connection_per_worker(cognito: Any) -> None:
    # Given an engine of 4 workers
    engine = Engine(engine_options(cognito), Checkpoint(), sleep=lambda _: None)

    # When its listing client is made
    config = engine.lister.client.meta.config

    # Then botocore makes one attempt (the run's limiter and backoff retry), bounded in time,
    # with a connection for each worker and two more
    assert config.retries["total_max_attempts"] == 1
    assert (config.connect_timeout, config.read_timeout, config.max_pool_connections) == (3, 10, 6)


def test_throttled_list_users_is_retried_with_backoff(cognito: Any, ddb: Any) -> None:
    # Given Cognito answering TooManyRequestsException twice before serving pages
    engine, checkpoint, users, delays = throttled_engine(cognito, 2)

    # When it runs
    summary = engine.run()

    # Then both throttles were retried after a backoff and every user landed
    assert summary.complete is True
    assert summary.throttles == 2
    assert len(delays) == 2
    assert live_subs(ddb) == sorted(users.values())
    checkpoint.close()


def test_a_long_run_of_throttles_is_waited_out_not_counted_as_failure(cognito: Any, ddb: Any) -> None:
    # Given Cognito refusing ListUsers 20 times in a row (the quota shared with a busy application)
    engine, checkpoint, users, delays = throttled_engine(cognito, 20)

    # When it runs
    summary = engine.run()

    # Then it kept backing off (far past the 8 attempts allowed for real failures) and completed
    assert (summary.complete, summary.throttles, len(delays)) == (True, 20, 20)
    assert live_subs(ddb) == sorted(users.values())
    checkpoint.close()


def test_rate_limiter_spaces_calls_evenly_across_threads() -> None:
    # Given a limiter of 20 calls per second on a frozen clock
    limiter = RateLimiter(20, clock=lambda: 100.0)

    # When five callers reserve a slot at the same instant
    waits = [limiter.reserve() for _ in range(5)]

    # Then they are spaced 50 ms apart
    assert waits == pytest.approx([0.0, 0.05, 0.10, 0.15, 0.20])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--segments", "7"], "invalid choice: 7"),
        (["--max-rps", "50"], "must be in (0, 30]"),
        (["--max-rps", "fast"], "not a number"),
        (["--verify", "--prune"], "cannot be combined with --prune"),
        (["--verify", "--dry-run"], "not allowed with argument"),
        (["--region", "eu west 1"], "not a region name"),
        (["--workers", "0"], "must be at least 1"),
        (["--write-mode", "bulk"], "invalid choice: 'bulk'"),
        (["--no-such-option"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    cognito: Any, capsys: Any, args: list[str], message: str
) -> None:
    # Given a bad option, When the command parses it, Then it exits 2 with an argparse message
    with pytest.raises(SystemExit) as exited:
        run_cli(cognito, *args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_pool_id_is_a_usage_error(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no --user-pool-id and no USER_POOL_ID
    monkeypatch.delenv("USER_POOL_ID", raising=False)

    # When the command runs, Then it exits 2 and names the option
    with pytest.raises(SystemExit) as exited:
        main(["--table", "mirror-test"])
    assert exited.value.code == 2
    assert "--user-pool-id is required" in capsys.readouterr().err


def test_unknown_pool_is_one_clear_line(cognito: Any, capsys: Any) -> None:
    # Given a pool id that does not exist
    # When the backfill runs
    code = main(["--user-pool-id", "eu-west-1_Nope", "--table", "mirror-test", "--write-mode", "put"])

    # Then it exits 4 with one line naming the pool, and no traceback
    err = capsys.readouterr().err
    assert code == 4
    assert err.strip().splitlines() == [
        "backfill: error: user pool 'eu-west-1_Nope' not found (ResourceNotFoundException)"
    ]


def test_unknown_table_is_one_clear_line(cognito: Any, capsys: Any) -> None:
    # Given a table that does not exist
    # When the backfill runs
    code = main(["--user-pool-id", cognito.id, "--table", "no-such-table"])

    # Then it exits 4 with one line naming the table
    err = capsys.readouterr().err
    assert code == 4
    assert err.strip().splitlines() == [
        "backfill: error: mirror table 'no-such-table' is not usable: "
        "mirror read failed: ResourceNotFoundException"
    ]


def test_missing_credentials_are_one_clear_line(cognito: Any, capsys: Any) -> None:
    # Given AWS credentials that botocore cannot find
    def no_credentials(table: MirrorTable, sub: str, **kwargs: Any) -> None:
        try:
            raise NoCredentialsError()
        except NoCredentialsError as exc:
            raise TableUnavailableError("mirror read failed: NoCredentialsError") from exc

    # When the backfill runs
    with mock.patch.object(MirrorTable, "get_record", no_credentials):
        code = run_cli(cognito)

    # Then it says so in one line and exits 4
    assert code == 4
    assert capsys.readouterr().err.strip().splitlines() == [
        "backfill: error: AWS credentials were rejected or are missing (NoCredentialsError)"
    ]


def test_a_checkpoint_of_another_run_is_refused(cognito: Any, tmp_path: Any, capsys: Any) -> None:
    # Given a checkpoint left by a --dry-run
    path = str(tmp_path / "cp.sqlite")
    other = Checkpoint(path)
    other.bind(Options(user_pool_id=cognito.id, mode=Mode.DRY_RUN).identity("mirror-test"))
    other.close()

    # When a fill run is pointed at it
    code = run_cli(cognito, "--checkpoint", path)

    # Then it refuses, in one line
    assert code == 4
    assert "belongs to another run" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("unset", "args", "message"),
    [
        ("MIRROR_TABLE", ["--user-pool-id", "eu-west-1_X"], "--table is required"),
        ("AWS_REGION", ["--user-pool-id", "eu-west-1_X", "--table", "t"], "no region"),
    ],
)
def test_a_missing_table_or_region_is_a_usage_error(
    capsys: Any, monkeypatch: pytest.MonkeyPatch, unset: str, args: list[str], message: str
) -> None:
    # Given neither the option nor its environment variable
    monkeypatch.delenv(unset)
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    # When the command runs, Then it exits 2 and says what is missing
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unknown_profile_is_one_clear_line(cognito: Any, capsys: Any) -> None:
    # Given an AWS profile that does not exist
    # When the backfill runs with it
    code = run_cli(cognito, "--profile", "no-such-profile")

    # Then it exits 4 with one line about credentials, and no traceback
    assert code == 4
    assert capsys.readouterr().err.strip().splitlines() == [
        "backfill: error: AWS credentials were rejected or are missing (ProfileNotFound)"
    ]


def test_a_bad_setting_in_the_environment_is_one_clear_line(
    cognito: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a DynamoDB timeout that is not a number
    monkeypatch.setenv("MIRROR_DDB_CONNECT_TIMEOUT", "soon")

    # When the backfill runs, Then it exits 4 naming the variable
    assert run_cli(cognito) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MIRROR_DDB_CONNECT_TIMEOUT" in err[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "was not written by this tool"),
        (b"not a database, just some notes\n" * 40, "is not usable"),
    ],
    ids=["empty", "corrupt"],
)
def test_a_file_that_is_no_checkpoint_is_refused_and_kept(
    cognito: Any, tmp_path: Any, capsys: Any, content: bytes, message: str
) -> None:
    # Given an existing file that this tool did not write
    path = tmp_path / "notes.sqlite"
    path.write_bytes(content)

    # When it is passed as the checkpoint
    code = run_cli(cognito, "--checkpoint", str(path))

    # Then the run refuses in one line with exit 4, and the file is untouched
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert len(err) == 1 and message in err[0]
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        ([], "was not written by this tool"),
        ([f"PRAGMA application_id = {CHECKPOINT_APPLICATION_ID}"], "has schema 0"),
        (
            [
                f"PRAGMA application_id = {CHECKPOINT_APPLICATION_ID}",
                f"PRAGMA user_version = {CHECKPOINT_SCHEMA}",
            ],
            "does not have the tables of its schema",
        ),
    ],
    ids=["unmarked", "another-schema", "marked-but-other-tables"],
)
def test_a_sqlite_database_of_another_program_is_refused_and_kept(
    cognito: Any, tmp_path: Any, capsys: Any, marks: list[str], message: str
) -> None:
    # Given somebody else's sqlite database (bearing none, some or all of the checkpoint marks)
    path = tmp_path / "app.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.execute("INSERT INTO notes VALUES ('keep me')")
        for pragma in marks:
            db.execute(pragma)
        db.commit()
    before = path.read_bytes()

    # When it is passed as the checkpoint
    code = run_cli(cognito, "--checkpoint", str(path))

    # Then it is refused (exit 4) in one line, not changed, not deleted
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert len(err) == 1 and message in err[0]
    assert path.read_bytes() == before


@pytest.mark.parametrize("where", ["directory", "missing folder"])
def test_a_checkpoint_path_that_cannot_be_a_file_is_one_clear_line(
    cognito: Any, tmp_path: Any, capsys: Any, where: str
) -> None:
    # Given a directory, or a path in a folder that does not exist
    path = tmp_path if where == "directory" else tmp_path / "nowhere" / "cp.sqlite"

    # When it is passed as the checkpoint
    code = run_cli(cognito, "--checkpoint", str(path))

    # Then exit 4 with one line, and nothing is created
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4
    assert len(err) == 1 and err[0].startswith(f"backfill: error: checkpoint {path}")
    assert not (tmp_path / "nowhere").exists()


def plant_segments(path: str, options: Options, *, pages: int, subs: int, listed: int) -> None:
    """A checkpoint of this run, edited by hand so that every segment says "done"."""
    checkpoint = Checkpoint(path)
    checkpoint.bind(options.identity("mirror-test"))
    checkpoint.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        for prefix in segment_prefixes(options.segments):
            db.execute("INSERT INTO segments VALUES (?, NULL, 1, ?, ?)", (prefix, pages, subs))
            db.execute("INSERT INTO counters VALUES (?, 'listed', ?)", (prefix, listed))
            db.execute("INSERT INTO counters VALUES (?, 'unchanged', ?)", (prefix, listed))
        db.commit()


@pytest.mark.parametrize(
    ("pages", "subs", "listed"),
    [(0, 0, 0), (1, 0, 0), (1, 5, 5)],
    ids=["no-pages", "done-and-empty", "subs-not-recorded"],
)
def test_a_planted_all_done_checkpoint_does_not_hide_missing_users_from_verify(
    cognito: Any, tmp_path: Any, capsys: Any, pages: int, subs: int, listed: int
) -> None:
    # Given users missing from the mirror, and a checkpoint of this very --verify run whose
    # segments all say "done" without the listed subs to show for it
    users = make_users(cognito, 5)
    path = str(tmp_path / "planted.sqlite")
    plant_segments(path, engine_options(cognito, mode=Mode.VERIFY), pages=pages, subs=subs, listed=listed)

    # When --verify resumes from it
    code = run_cli(cognito, "--verify", "--checkpoint", path, "--json")

    # Then every segment is listed again: the missing users are found and none came from the file
    summary = summary_of(capsys)
    assert code == 3
    assert (summary["missing"], summary["listed"], summary["unchanged"]) == (len(users), 5, 0)
    assert summary["resumed_segments"] == 0


def test_a_checkpoint_with_imported_progress_is_refused_by_the_command(
    cognito: Any, tmp_path: Any, capsys: Any
) -> None:
    # Given a checkpoint of this run holding progress imported from elsewhere (the reconcile's way)
    path = str(tmp_path / "imported.sqlite")
    checkpoint = Checkpoint(path)
    checkpoint.bind(engine_options(cognito, mode=Mode.VERIFY).identity("mirror-test"))
    checkpoint.import_progress({"segments": {p: [None, True] for p in HEX}, "counters": {}})
    checkpoint.close()

    # When --verify is pointed at it, Then it is refused in one line
    assert run_cli(cognito, "--verify", "--checkpoint", path) == 4
    assert "was not written by this command" in capsys.readouterr().err
    assert os.path.exists(path)


def test_verify_reports_rows_with_wrong_index_keys_as_misindexed_and_exits_3(
    cognito: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a mirror filled while nothing was indexed
    make_users(cognito, 4)
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", "none")
    assert run_cli(cognito, "--json") == 0
    capsys.readouterr()
    # When --verify runs under the default index set (e-mail, tenant)
    monkeypatch.delenv("MIRROR_INDEXED_ATTRIBUTES")
    code = run_cli(cognito, "--verify", "--json")
    # Then the four rows are drift of their own kind, and nothing is written
    summary = summary_of(capsys)
    assert code == 3
    assert (summary["misindexed"], summary["reindexed"], summary["unchanged"]) == (4, 0, 4)


def test_reindex_rewrites_only_the_index_keys_then_verify_is_clean(
    cognito: Any, raw_item: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a mirror filled while only the tenant was indexed (e-mail keys missing)
    users = make_users(cognito, 3)
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", "custom:tenant")
    assert run_cli(cognito, "--json") == 0
    before = {sub: raw_item(sub) for sub in users.values()}
    capsys.readouterr()
    # When the setting gains e-mail and --reindex runs
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", "email,custom:tenant")
    assert run_cli(cognito, "--reindex", "--json") == 0
    summary = summary_of(capsys)
    # Then every row got its e-mail key, and nothing else changed (observed_at included)
    assert (summary["misindexed"], summary["reindexed"], summary["written"]) == (3, 3, 0)
    for username, sub in users.items():
        after = raw_item(sub)
        assert after["dir0"]["S"] == f"email#u{int(username[4:])}@example.com"
        assert {k: v for k, v in after.items() if k != "dir0"} == before[sub]
    # And a verify finds no drift
    assert run_cli(cognito, "--verify", "--json") == 0


def test_reindex_cannot_be_combined_with_a_mode_that_writes_nothing(cognito: Any, capsys: Any) -> None:
    # Given --reindex with --verify / When parsed / Then a usage error (exit 2) says why
    with pytest.raises(SystemExit) as exited:
        run_cli(cognito, "--reindex", "--verify")
    assert exited.value.code == 2
    assert "--reindex writes" in capsys.readouterr().err
