"""Lag metrics (MirrorFreshness, UserEventLag): right values on a controlled clock, EMF CloudWatch takes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from functions.common.observability import NAMESPACE, LagMetric, lag_summary, user_event_lag
from scripts.emf import blobs, metric_values
from tests.support.user_events import StubEvents, configure_bus, run_handler, stream_batch

# The fixtures' rows: ApproximateCreationDateTime 1764547200 (epoch seconds), each row observed a
# millisecond after the previous one from that second on (created +0 ms, updated +2 ms).
STREAM_WRITE_US = 1764547200 * 1_000_000


@pytest.fixture
def event_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """UserEventLag's clock stands 0.8 s after the fixtures' stream records were written."""
    monkeypatch.setattr(user_event_lag, "clock", lambda: STREAM_WRITE_US + 800_000)
    yield


def test_a_lag_is_the_time_from_the_moment_to_the_clock_in_milliseconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a lag metric whose clock reads 1.25 s after a change
    lag = LagMetric("MirrorFreshness", dimension="path", clock=lambda: 11_250_000)
    # When a write of that change lands, and the invocation ends
    lag.landed(10_000_000, "attribute_sync")
    lag.flush()
    # Then one EMF blob carries 1250 ms under its path, in the stack's namespace
    out = capsys.readouterr().out
    assert metric_values(out, "MirrorFreshness", "path") == {"attribute_sync": [1250.0]}
    (blob,) = blobs(out)
    directive = blob["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Metrics"] == [{"Name": "MirrorFreshness", "Unit": "Milliseconds"}]
    assert sorted(directive["Dimensions"][0]) == ["path", "service"]


def test_a_clock_behind_the_change_counts_as_no_lag(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a change stamped by another clock, 2 s ahead of ours
    lag = LagMetric("MirrorFreshness", dimension="path", clock=lambda: 1_000_000)
    # When its write lands
    value = lag.landed(3_000_000, "attribute_sync")
    # Then the lag is 0, never negative
    assert value == 0.0


def test_values_leave_in_blobs_of_at_most_100_and_nothing_waits_after_a_flush(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given 250 landed writes of one path
    lag = LagMetric("MirrorFreshness", dimension="path", clock=lambda: 5_000)
    for _ in range(250):
        lag.landed(0, "reconcile")
    # When the invocation ends (and again, with nothing new)
    lag.flush()
    lag.flush()
    # Then every value was printed once, no blob holding more than CloudWatch's 100 values
    out = capsys.readouterr().out
    assert [len(blob["MirrorFreshness"]) for blob in blobs(out)] == [100, 100, 50]
    assert metric_values(out, "MirrorFreshness", "path")["reconcile"] == [5.0] * 250


def test_a_process_that_keeps_its_values_prints_none_and_summarizes_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a lag metric kept for a summary (the backfill CLI)
    lag = LagMetric("MirrorFreshness", dimension="path", clock=lambda: 100_000)
    with lag.kept() as kept:
        for since in range(100):
            lag.landed(since * 1000, "backfill")  # lags of 1..100 ms
        lag.flush()
    # Then nothing was printed, and the summary has the nearest-rank percentiles
    assert capsys.readouterr().out == ""
    assert lag_summary(kept["backfill"]) == {"count": 100, "p50_ms": 50.0, "p99_ms": 99.0, "max_ms": 100.0}
    # And after the block, values are printed again
    lag.landed(0, "backfill")
    lag.flush()
    assert metric_values(capsys.readouterr().out, "MirrorFreshness", "path") == {"backfill": [100.0]}


def test_user_event_lag_runs_from_the_stream_record_to_put_events_accepting_the_event(
    monkeypatch: pytest.MonkeyPatch, event_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the bus accepts every event, and the records were written 0.8 s ago
    configure_bus(monkeypatch, StubEvents())
    # When the stream handler publishes two changes and skips a sign-in that changed nothing
    run_handler(stream_batch("created", "signin", "updated"))
    # Then one lag per published event (from its row's observation, later than the record's
    # whole second), none for the skipped record
    assert metric_values(capsys.readouterr().out, "UserEventLag") == {"": [800.0, 798.0]}


def test_an_event_put_events_refused_has_no_lag(
    monkeypatch: pytest.MonkeyPatch, event_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a bus that refuses every User Updated entry, however often it is retried
    def refuse_updates(call: int, entries: list[dict[str, Any]]) -> set[int]:
        return {i for i, entry in enumerate(entries) if entry["DetailType"] == "User Updated"}

    configure_bus(monkeypatch, StubEvents(fail=refuse_updates))
    # When the handler publishes two changes
    run_handler(stream_batch("created", "updated"))
    # Then only the accepted one has a lag
    assert metric_values(capsys.readouterr().out, "UserEventLag") == {"": [800.0]}


def test_the_row_write_is_the_later_of_the_stream_records_time_and_the_rows_observation() -> None:
    from functions.common.event_publisher import stream_record_time_us

    # Given DynamoDB Local's record (an ISO string) and Lambda's (epoch seconds), without images
    local = {"dynamodb": {"ApproximateCreationDateTime": "2026-12-01T19:31:18.000Z"}}
    aws = {"dynamodb": {"ApproximateCreationDateTime": 1796153478}}
    # Then both read as the same moment; nonsense reads as unknown
    assert stream_record_time_us(local) == stream_record_time_us(aws) == 1796153478 * 1_000_000
    assert stream_record_time_us({"dynamodb": {"ApproximateCreationDateTime": "soon"}}) is None
    assert stream_record_time_us({"dynamodb": {"ApproximateCreationDateTime": True}}) is None
    # And a row observed 0.4 s into that (rounded-down) second was written no earlier than that
    observed = {"NewImage": {"observed_at": {"N": str(1796153478 * 1_000_000 + 400_000)}}}
    assert stream_record_time_us({"dynamodb": {**aws["dynamodb"], **observed}}) == 1796153478_400_000


def test_the_figures_are_read_back_from_a_log_whatever_prefixes_its_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from scripts.emf import lag_figures

    # Given the EMF a function printed, as serverless-offline writes it into its log (prefixed)
    lag = LagMetric("MirrorFreshness", dimension="path", clock=lambda: 30_000)
    for since in (0, 10_000, 20_000):
        lag.landed(since, "post_authentication")
    lag.flush()
    log = "\n".join(f"(λ: postAuthentication) {line}" for line in capsys.readouterr().out.splitlines())
    # When the figures are read back
    figures = lag_figures(log + "\nnot json {\n")
    # Then they are the recorded lags' percentiles
    assert figures == {"post_authentication": {"count": 3, "p50_ms": 20.0, "p99_ms": 30.0, "max_ms": 30.0}}


def test_the_demos_last_step_prints_each_paths_figures_from_the_offline_log(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from scripts.demo_freshness import step_12_freshness
    from scripts.demo_transcript import DemoState, Transcript

    # Given serverless-offline's log of a demo run: the three writer paths and published events
    freshness = LagMetric("MirrorFreshness", dimension="path", clock=lambda: 40_000)
    for path in ("post_confirmation", "post_authentication", "attribute_sync"):
        freshness.landed(0, path)
    freshness.flush()
    events = LagMetric("UserEventLag", clock=lambda: 900_000)
    events.landed(0)
    events.flush()
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "serverless-offline.log").write_text(capsys.readouterr().out)
    lines: list[str] = []
    transcript = Transcript(out=lines.append)
    state = DemoState(backfill_freshness={"count": 2, "p50_ms": 5.0, "p99_ms": 7.0, "max_ms": 7.0})
    # When the step runs
    step_12_freshness(SimpleNamespace(info=SimpleNamespace(state_dir=tmp_path)), transcript, state)  # type: ignore[arg-type]
    # Then every figure is printed and both checks pass
    text = "\n".join(lines)
    assert transcript.failed == [] and transcript.passed == 2
    assert "post_confirmation" in text and "p50     40.0 ms" in text
    assert "user events (row->bus)" in text and "900.0 ms" in text
    assert "backfill (its summary)" in text
