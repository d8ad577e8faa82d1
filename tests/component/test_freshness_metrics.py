"""MirrorFreshness per writer path, on a controlled clock: from the change to the row landing,
emitted only for writes that landed; the reconcile's drift of a complete pass (ReconcileDrift)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.common.observability import mirror_freshness
from models.errors import TableUnavailableError
from models.table import MirrorTable
from models.user import UserSnapshot, iso_time_us
from scripts.emf import metric_values
from tests.support.helpers import FakeLambdaContext, load_event, trigger_event
from tests.support.sync_events import cloudtrail, eventbridge, sqs_batch

# What a run writes and counts, not its pace (the engine's Cognito calls are not paced at the quotas).
pytestmark = pytest.mark.usefixtures("unpaced")

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"
T0 = 1_796_000_000_000_000  # µs since the epoch


def freshness(out: str) -> dict[str, list[float]]:
    return metric_values(out, "MirrorFreshness", "path")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the readings of the freshness clock: one value for ever, or a sequence of them."""

    def set_readings(*readings: int) -> None:
        values: Iterator[int] = iter(readings)
        last = [readings[0]]

        def read() -> int:
            last[0] = next(values, last[0])
            return last[0]

        monkeypatch.setattr(mirror_freshness, "clock", read)

    return set_readings


@pytest.mark.parametrize(
    ("fixture", "module", "path"),
    [
        ("post_confirmation_confirm_signup", "post_confirmation", "post_confirmation"),
        ("post_authentication", "post_authentication", "post_authentication"),
    ],
)
def test_a_trigger_reports_the_time_from_its_invocation_to_the_row_landing(
    fixture: str, module: str, path: str, clock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    # Given a trigger invoked at T0 whose write lands 42 ms later
    clock(T0, T0 + 42_000)
    # When Cognito invokes it
    importlib.import_module(f"functions.{module}").handler(load_event(fixture), FakeLambdaContext())
    # Then its path's freshness is 42 ms
    assert freshness(capsys.readouterr().out) == {path: [42.0]}


def test_a_trigger_whose_write_failed_reports_no_freshness(
    clock: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.post_confirmation import handler

    # Given a mirror table that refuses the write
    def refuse(table: MirrorTable, snapshot: UserSnapshot) -> Any:
        raise TableUnavailableError("down")

    monkeypatch.setattr(MirrorTable, "put_snapshot", refuse)
    clock(T0, T0 + 42_000)
    # When a sign-up's trigger runs
    handler(
        trigger_event("post_confirmation_confirm_signup", sub=SUB, username="jane.doe"), FakeLambdaContext()
    )
    # Then nothing landed, so no freshness is reported
    assert freshness(capsys.readouterr().out) == {}


def test_attribute_sync_reports_the_time_from_the_cloudtrail_event_to_the_row_landing(
    cognito: Any, clock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.attribute_sync import handler

    # Given an attribute change recorded by CloudTrail, synced 1.5 s after its eventTime
    sub = cognito.create_user("ann", email="ann@example.com")
    detail = cloudtrail("admin_update_user_attributes", pool=cognito.id, sub=sub, username="ann")
    changed = iso_time_us(detail["eventTime"])
    assert changed is not None
    clock(changed + 1_500_000)
    # When the sync handles it
    handler(sqs_batch(eventbridge(detail)), FakeLambdaContext())
    # Then the landed write is 1500 ms fresh
    assert freshness(capsys.readouterr().out) == {"attribute_sync": [1500.0]}


def test_reconcile_reports_the_time_from_listing_a_user_to_its_row_landing(
    cognito: Any,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from functions.reconcile import handler

    monkeypatch.setenv("MIRROR_RECONCILE_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MIRROR_RECONCILE_WRITE_MODE", "put")
    # Given two users the mirror lacks, listed at T0 and written 250 ms later
    cognito.create_user("a", email="a@example.com")
    cognito.create_user("b", email="b@example.com")
    monkeypatch.setattr("functions.common.backfill.engine.now_us", lambda: T0)
    clock(T0 + 250_000)
    # When the scheduled reconcile runs
    handler({"source": "aws.events"}, FakeLambdaContext(remaining_ms=600_000))
    # Then each landed write is 250 ms fresh, under the reconcile's path
    assert freshness(capsys.readouterr().out) == {"reconcile": [250.0, 250.0]}


def test_a_complete_reconcile_reports_its_drift_and_an_incomplete_one_does_not(
    cognito: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.reconcile import handler

    monkeypatch.setenv("MIRROR_RECONCILE_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MIRROR_RECONCILE_WRITE_MODE", "put")
    # Given two users the mirror lacks
    cognito.create_user("a", email="a@example.com")
    cognito.create_user("b", email="b@example.com")
    # When a reconcile runs out of time at once, then one completes
    handler({"source": "aws.events"}, FakeLambdaContext(remaining_ms=1_000))
    incomplete = capsys.readouterr().out
    handler({"source": "aws.events"}, FakeLambdaContext(remaining_ms=600_000))
    complete = capsys.readouterr().out
    # Then only the complete pass reports ReconcileDrift: the two missing users
    assert metric_values(incomplete, "ReconcileDrift") == {}
    assert metric_values(complete, "ReconcileDrift") == {"": [2.0]}
    # And the Cognito throttles it waited out are counted with every run (none here)
    assert metric_values(complete, "ReconcileThrottles") == {"": [0.0]}


def test_the_backfill_command_puts_its_freshness_in_its_summary_not_on_stdout_as_emf(
    cognito: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.backfill.cli import main

    # Given three users listed at T0 and written 80 ms later
    for name in ("a", "b", "c"):
        cognito.create_user(name, email=f"{name}@example.com")
    monkeypatch.setattr("functions.common.backfill.engine.now_us", lambda: T0)
    clock(T0 + 80_000)
    # When the backfill command fills the mirror
    code = main(["--user-pool-id", cognito.id, "--table", "mirror-test", "--write-mode", "put", "--json"])
    # Then stdout is its one JSON summary, with the freshness of the three writes
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["freshness"] == {"count": 3, "p50_ms": 80.0, "p99_ms": 80.0, "max_ms": 80.0}


def test_a_read_through_repair_reports_the_time_from_reading_cognito_to_the_row_landing(
    cognito: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.repair_user import handler

    # Given a user the mirror lacks, read from Cognito at T0 and written 30 ms later
    sub = cognito.create_user("ann", email="ann@example.com")
    monkeypatch.setattr("functions.common.cognito.now_us", lambda: T0)
    clock(T0 + 30_000)
    # When a reader's miss asks the repair function for it
    answer = handler({"sub": sub, "username": "ann"}, FakeLambdaContext())
    # Then the row landed 30 ms after Cognito was read
    assert answer["found"] is True
    assert freshness(capsys.readouterr().out) == {"read_through": [30.0]}
