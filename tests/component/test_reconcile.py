"""The scheduled reconcile (functions/reconcile.handler) on moto, with planted drift.

moto cannot run PartiQL with parameters: the handler runs with MIRROR_RECONCILE_WRITE_MODE=put.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from models.settings import get_settings
from models.state import state_table_for_settings
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.fixtures import STATE, TABLE
from tests.support.helpers import FakeLambdaContext

# What a run writes and counts, not its pace (the engine's Cognito calls are not paced at the quotas).
pytestmark = pytest.mark.usefixtures("unpaced")


@pytest.fixture(autouse=True)
def _reconcile_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("MIRROR_RECONCILE_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MIRROR_RECONCILE_WRITE_MODE", "put")
    monkeypatch.setenv("MIRROR_RECONCILE_WORKERS", "4")


def invoke(remaining_ms: int = 600_000) -> dict[str, Any]:
    from functions.reconcile import handler

    result: dict[str, Any] = handler({"source": "aws.events"}, FakeLambdaContext(remaining_ms=remaining_ms))
    return result


def emitted_metrics(output: str) -> dict[str, float]:
    """The metric values of the EMF blob Powertools printed."""
    for line in output.splitlines():
        if line.startswith("{") and "_aws" in line:
            blob = json.loads(line)
            names = [m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
            # Powertools may write a metric value as a list of values.
            return {name: sum(blob[name]) if isinstance(blob[name], list) else blob[name] for name in names}
    raise AssertionError("no metrics emitted")


def test_reconcile_fixes_planted_drift_and_reports_it(cognito: Any, ddb: Any, capsys: Any) -> None:
    # Given: one user missing from the mirror, one stale row, one orphan row of a deleted user
    missing = cognito.create_user("missing", email="missing@example.com")
    stale = cognito.create_user("stale", email="now@example.com")
    mirror_table().put_snapshot(
        UserSnapshot(stale, "stale", {"email": "old@example.com"}, "CONFIRMED", True, 1, "trigger")
    )
    mirror_table().put_snapshot(
        UserSnapshot("orphan-sub", "deleted-user", {}, "CONFIRMED", True, 1, "trigger")
    )

    # When the scheduled reconcile runs
    result = invoke()

    # Then all of it is repaired, and the drift is counted and emitted as metrics
    assert (result["missing"], result["stale"], result["orphaned"]) == (1, 1, 1)
    assert (result["written"], result["pruned"], result["complete"]) == (2, 1, True)
    assert mirror_table().get_record(missing) is not None
    stale_row = mirror_table().get_record(stale)
    assert stale_row is not None and stale_row.attributes is not None
    assert stale_row.attributes.as_dict()["email"] == "now@example.com"
    orphan = mirror_table().get_record("orphan-sub")
    assert orphan is not None and orphan.is_tombstone
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["DriftMissing"] == 1.0
    assert metrics["DriftStale"] == 1.0
    assert metrics["DriftOrphaned"] == 1.0


def test_reconcile_revives_a_wrongly_tombstoned_user_and_reports_it(cognito: Any, capsys: Any) -> None:
    # Given a live user whose mirror row is a tombstone
    sub = cognito.create_user("tom", email="tom@example.com")
    mirror_table().put_tombstone(sub, observed_at=1, source="attribute_sync")

    # When the scheduled reconcile runs
    result = invoke()

    # Then the user is live again, and the drift is counted and emitted
    assert (result["tombstoned"], result["revived"]) == (1, 1)
    row = mirror_table().get_record(sub)
    assert row is not None and not row.is_tombstone and row.username == "tom"
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["DriftTombstoned"] == 1.0
    assert metrics["ReconcileRevived"] == 1.0


def test_a_second_run_finds_no_drift(cognito: Any) -> None:
    # Given a reconciled pool
    cognito.create_user("a", email="a@example.com")
    invoke()

    # When the reconcile runs again
    result = invoke()

    # Then there is nothing left to repair
    assert (result["missing"], result["stale"], result["orphaned"], result["written"]) == (0, 0, 0, 0)
    assert result["unchanged"] == 1


def test_out_of_time_saves_progress_and_the_next_run_continues(cognito: Any, tmp_path: Any) -> None:
    # Given a pool and an invocation with no time left before the safety margin
    subs = [cognito.create_user(f"u{i}", email=f"u{i}@example.com") for i in range(5)]
    mirror_table().put_snapshot(
        UserSnapshot("orphan-sub", "deleted-user", {}, "CONFIRMED", True, 1, "trigger")
    )

    # When it runs, it stops at once and keeps its progress in the state table
    first = invoke(remaining_ms=1_000)
    assert first["complete"] is False
    assert state_table_for_settings(get_settings()).load("reconcile#" + cognito.id) is not None

    # And when a cold container (no /tmp file) runs the next invocation with time
    for leftover in tmp_path.iterdir():
        leftover.unlink()
    second = invoke()

    # Then it finishes the listing, clears its state, and does not prune on a partial sub set
    assert second["complete"] is True
    assert all(mirror_table().get_record(sub) is not None for sub in subs)
    assert state_table_for_settings(get_settings()).load("reconcile#" + cognito.id) is None
    orphan = mirror_table().get_record("orphan-sub")
    assert orphan is not None and not orphan.is_tombstone
    assert second["prune_skipped"]

    # And the run after that prunes
    assert invoke()["pruned"] == 1


def test_an_old_state_row_in_the_users_table_is_never_taken_for_a_user(cognito: Any, ddb: Any) -> None:
    # Given a reconcile state row an older version left in the users table, and a reconcile that
    # ran out of time (its state now in the state table)
    old = {"sub": {"S": "#reconcile#" + cognito.id}, "observed_at": {"N": "0"}, "deleted": {"BOOL": True}}
    ddb.put_item(
        TableName=TABLE, Item=old | {"state": {"S": '{"cursor": 1}'}, "source": {"S": "engine-state"}}
    )
    cognito.create_user("a", email="a@example.com")
    invoke(remaining_ms=1_000)
    assert state_table_for_settings(get_settings()).load("reconcile#" + cognito.id) is not None

    # When the engine scans the mirror for orphans
    subs = [row.sub for segment in range(4) for row in mirror_table().scan_records(segment, 4)]

    # Then the old row is not among the rows it considers, and the run wrote no such row
    assert not [sub for sub in subs if sub.startswith("#")]
    stored = ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    assert [item["sub"]["S"] for item in stored if item["sub"]["S"].startswith("#")] == [
        "#reconcile#" + cognito.id
    ]


def plant_state(ddb: Any, pool_id: str, state: dict[str, Any]) -> None:
    """Write the reconcile's state row by hand, as a bug or an operator might have left it."""
    ddb.put_item(TableName=STATE, Item={"key": {"S": "reconcile#" + pool_id}, "state": state})


@pytest.mark.parametrize(
    "state",
    [
        {"S": "{not json"},
        {"S": "[1, 2, 3]"},
        {"S": '{"run_id": 7, "segments": {}, "counters": {}}'},
        {"S": '{"run_id": "../../etc/x", "segments": {}, "counters": {}}'},
        {"S": '{"run_id": "abc", "segments": {"zz": [null, true]}, "counters": {}}'},
        {"S": '{"run_id": "abc", "segments": {"a": "done"}, "counters": {}}'},
        {"S": '{"run_id": "abc", "segments": {}, "counters": {"listed": -3}}'},
        {"S": '{"run_id": "abc", "segments": {}, "counters": {}, "extra": 1}'},
        {"N": "42"},
    ],
    ids=[
        "not-json",
        "a-list",
        "run-id-not-text",
        "run-id-a-path",
        "unknown-segment",
        "segment-not-a-pair",
        "negative-counter",
        "another-shape",
        "not-a-string",
    ],
)
def test_an_unreadable_stored_state_is_discarded_and_the_run_starts_afresh(
    cognito: Any, ddb: Any, capsys: Any, tmp_path: Any, state: dict[str, Any]
) -> None:
    # Given users missing from the mirror and a malformed reconcile state row
    subs = [cognito.create_user(f"u{i}", email=f"u{i}@example.com") for i in range(3)]
    plant_state(ddb, cognito.id, state)

    # When the scheduled reconcile runs
    result = invoke()

    # Then it starts afresh and completes, clears the row, and counts the discarded state
    assert (result["complete"], result["listed"], result["written"]) == (True, 3, 3)
    assert all(mirror_table().get_record(sub) is not None for sub in subs)
    assert state_table_for_settings(get_settings()).load("reconcile#" + cognito.id) is None
    assert emitted_metrics(capsys.readouterr().out)["ReconcileStateDiscarded"] == 1.0
    assert not (tmp_path.parent / "etc").exists()


def test_a_readable_state_is_not_counted_as_discarded(cognito: Any, capsys: Any) -> None:
    # Given a reconcile that ran out of time and saved its state
    cognito.create_user("a", email="a@example.com")
    invoke(remaining_ms=1_000)
    capsys.readouterr()

    # When the next invocation resumes it
    result = invoke()

    # Then nothing was discarded
    assert result["complete"] is True
    assert emitted_metrics(capsys.readouterr().out)["ReconcileStateDiscarded"] == 0.0


def test_an_unusable_leftover_sqlite_file_is_replaced(cognito: Any, ddb: Any, tmp_path: Any) -> None:
    # Given a saved state whose run's /tmp file is corrupt (a warm container, a broken file)
    sub = cognito.create_user("a", email="a@example.com")
    plant_state(ddb, cognito.id, {"S": '{"run_id": "abc", "segments": {}, "counters": {}}'})
    (tmp_path / "mirror-reconcile-abc.sqlite").write_bytes(b"garbage" * 100)

    # When the reconcile runs
    result = invoke()

    # Then it replaces the file and completes the run
    assert result["complete"] is True
    assert mirror_table().get_record(sub) is not None
    assert not (tmp_path / "mirror-reconcile-abc.sqlite").exists()
