"""The benchmark helpers measure and report; they never assert timings (make bench does that)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import stats
from bench.stats import Report, Summary, figure, interleaved, render, timed, timed_pair
from tests.support.helpers import FakeLambdaContext, load_event


def test_summary_reports_median_p99_and_extremes() -> None:
    # Given 100 samples 1..100
    values = [float(v) for v in range(100, 0, -1)]
    # When summarised
    summary = Summary.of(values)
    # Then
    assert (summary.samples, summary.median, summary.min, summary.max) == (100, 50.5, 1.0, 100.0)
    assert summary.p99 == pytest.approx(99.01)


def test_summary_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        Summary.of([])


def test_a_figure_with_a_baseline_compares_the_chosen_statistic_with_it() -> None:
    # Given values twice as slow as their baseline at p99 but equal at the median
    values = [1.0] * 98 + [4.0, 4.0]
    baseline = [1.0] * 98 + [2.0, 2.0]
    # When compared at p99 with a 1.5x goal, then at the median
    at_p99 = figure("x", values, baseline=("base", baseline), unit="s", stat="p99", at_most=1.5)
    at_median = figure("x", values, baseline=("base", baseline), unit="s", at_most=1.5)
    # Then only the median goal is met
    assert at_p99.ratio == pytest.approx(2.0)
    assert at_p99.met is False
    assert at_median.ratio == pytest.approx(1.0)
    assert at_median.met is True


def test_a_figure_without_a_goal_has_no_verdict() -> None:
    measured = figure("x", [1.0], baseline=("base", [2.0]), unit="ms")
    assert measured.goal is None
    assert measured.met is None
    assert measured.ratio == pytest.approx(0.5)


def test_a_figure_without_a_baseline_has_its_goal_in_seconds_on_the_named_statistic() -> None:
    # Given return times whose median is fine but whose worst case is over the limit
    values = [1.0, 1.0, 3.0]
    # When checked on the max and on the median
    worst = figure("return", values, unit="s", stat="max", at_most=2.5)
    typical = figure("return", values, unit="s", at_most=2.5)
    # Then
    assert worst.met is False
    assert typical.met is True
    assert worst.goal == "max <= 2.5 s"


def test_timed_runs_the_bounded_number_of_samples_after_warmup() -> None:
    calls: list[int] = []
    values = timed(lambda: calls.append(1), 5, warmup=3)
    assert len(values) == 5
    assert len(calls) == 8


def test_interleaved_rotates_the_order_and_keeps_samples_per_call() -> None:
    # Given three calls
    log: list[str] = []
    calls = {name: (lambda name=name: log.append(name)) for name in "xyz"}
    # When timed for 3 rounds
    out = interleaved(calls, 3)
    # Then each starts one round, and each has its 3 samples
    assert log == ["x", "y", "z", "y", "z", "x", "z", "x", "y"]
    assert {name: len(values) for name, values in out.items()} == {"x": 3, "y": 3, "z": 3}


def test_timed_pair_interleaves_and_prepares_only_the_first_call() -> None:
    # Given two calls and a preparation step, recorded in order
    log: list[str] = []
    # When 2 pairs are timed after 1 warm-up pair
    first, second = timed_pair(
        lambda: log.append("a"), lambda: log.append("b"), 2, warmup=1, before=lambda: log.append("prep")
    )
    # Then the order alternates and every `a` is preceded by its preparation
    assert (len(first), len(second)) == (2, 2)
    assert log == ["prep", "a", "b", "b", "prep", "a", "prep", "a", "b"]


def test_report_writes_figures_machine_and_lines_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a report with a missed goal and an arithmetic line
    monkeypatch.setattr(stats, "RESULTS", tmp_path)
    report = Report("demo", lines=["ARITHMETIC: 120 requests/s"])
    report.figures.append(figure("slow", [0.003], baseline=("raw", [0.001]), unit="ms", at_most=1.3))
    # When written and rendered
    path = report.write()
    table = render([report])
    # Then the JSON carries the figure in its unit, and the table says the goal was missed
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert path == tmp_path / "demo.json"
    written = data["figures"][0]
    assert (written["median"], written["baseline"]["median"], written["ratio"]) == (3.0, 1.0, 3.0)
    assert written["met"] is False
    assert data["lines"] == ["ARITHMETIC: 120 requests/s"]
    assert data["machine"]["cpus"] >= 1
    assert "NO" in table.splitlines()[2].split()
    assert table.splitlines()[-1] == "ARITHMETIC: 120 requests/s"


def _signed_in_token(cognito: Any) -> str:
    app = cognito.idp.create_user_pool_client(
        UserPoolId=cognito.id, ClientName="bench", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.create_user("jane.doe", email="jane.doe@example.com", custom__tenant="acme")
    cognito.idp.admin_set_user_password(
        UserPoolId=cognito.id, Username="jane.doe", Password="Passw0rd!x", Permanent=True
    )
    auth = cognito.idp.admin_initiate_auth(
        UserPoolId=cognito.id,
        ClientId=app,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "jane.doe", "PASSWORD": "Passw0rd!x"},
    )
    token: str = auth["AuthenticationResult"]["AccessToken"]
    return token


def test_naive_baseline_answers_with_getuser_attributes(cognito: Any) -> None:
    # Given a signed-in user and the seed's handler
    token = _signed_in_token(cognito)
    from bench import naive_getuser_handler

    event = load_event("apigw_http_get_me")
    event["headers"]["authorization"] = f"Bearer {token}"
    # When it handles GET /me
    response = naive_getuser_handler.handler(event, FakeLambdaContext())
    # Then it answers with the user's attributes, read from Cognito
    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert body["username"] == "jane.doe"
    assert body["attributes"]["custom:tenant"] == "acme"


def test_naive_baseline_rejects_a_request_without_a_token() -> None:
    from bench import naive_getuser_handler

    event = load_event("apigw_http_get_me")
    del event["headers"]["authorization"]
    assert naive_getuser_handler.handler(event, FakeLambdaContext())["statusCode"] == 401
