"""The dashboard, the alarms on what users feel, and the runbook, on both packaged templates."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from functions.backfill.cli import build_parser
from functions.common.observability import FRESHNESS_PATHS, PATH_DIMENSION
from scripts.logs_insights import parse
from scripts.package_build import ROOT, STAGE, PackagedStack
from scripts.table import load_serverless

pytestmark = pytest.mark.deploy

RUNBOOK = (ROOT / "docs" / "OPERATIONS.md").read_text()
QUERIES = ROOT / "docs" / "queries"
SERVICE = "cognito-mirror"
# The alarms on what users feel: threshold parameter and its serverless.yml param.
NEW_ALARMS = {
    "FreshnessAlarm": ("FreshnessAlarmP99Ms", "freshnessAlarmP99Ms"),
    "ReconcileDriftAlarm": ("DriftAlarmThreshold", "driftAlarmThreshold"),
    "ApiErrorRateAlarm": ("Api5xxAlarmPercent", "api5xxAlarmPercent"),
    "ApiLatencyAlarm": ("ApiLatencyAlarmP99Ms", "apiLatencyAlarmP99Ms"),
}


def emitted_metric_names() -> set[str]:
    """The metric names the code emits, read from functions/: the string constants in the name
    argument of each count_metric(...) and LagMetric(...) call."""
    names: set[str] = set()
    for path in (ROOT / "functions").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            called = getattr(node.func, "id", getattr(node.func, "attr", None))
            if called in ("count_metric", "LagMetric"):
                names |= {
                    c.value
                    for c in ast.walk(node.args[0])
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                }
    return names


def dashboard(stack: PackagedStack) -> dict[str, Any]:
    (resource,) = stack.resources_of_type("AWS::CloudWatch::Dashboard").values()
    body = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    variables = set(re.findall(r"\$\{([^}]+)\}", body))
    assert variables <= {"AWS::Region", "HttpApi"}
    assert "HttpApi" in stack.template["Resources"]
    parsed: dict[str, Any] = json.loads(re.sub(r"\$\{[^}]+\}", "resolved", body))
    return parsed


def names_in(stack: PackagedStack) -> set[str]:
    """Every resource name the template spells out (queues, functions, archive, bus, log groups...)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and (value.startswith(f"{SERVICE}-{STAGE}") or value.startswith("/aws/")):
            found.add(value)

    for resource in stack.template["Resources"].values():
        walk(resource.get("Properties", {}))
    return found | {f"{SERVICE}-{STAGE}"}  # the stack's own name


def test_the_dashboard_body_is_json_once_resolved_and_shows_only_what_the_stack_has(
    stack: PackagedStack,
) -> None:
    # Given the packaged dashboard, its body resolved as CloudFormation would
    widgets = dashboard(stack)["widgets"]
    functions = {
        r["Properties"]["FunctionName"] for r in stack.resources_of_type("AWS::Lambda::Function").values()
    }
    queues = {r["Properties"]["QueueName"] for r in stack.resources_of_type("AWS::SQS::Queue").values()}
    namespace = stack.template["Resources"]["ApiLambdaFunction"]["Properties"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ]
    emitted = emitted_metric_names()
    # Then every metric it shows is one the code emits, or AWS's for a resource of this stack
    shown: set[str] = set()
    for widget in widgets:
        for metric in widget["properties"]["metrics"]:
            ns, name, *dimensions = [part for part in metric if not isinstance(part, dict)]
            pairs = dict(zip(dimensions[::2], dimensions[1::2], strict=True))
            if ns == namespace:
                assert name in emitted, name
                assert set(pairs) <= {"service", PATH_DIMENSION}
                assert pairs.get(PATH_DIMENSION, FRESHNESS_PATHS[0]) in FRESHNESS_PATHS
                shown.add(name)
            elif ns == "AWS/Lambda":
                assert pairs["FunctionName"] in functions
            elif ns == "AWS/SQS":
                assert pairs["QueueName"] in queues
            else:
                assert ns == "AWS/ApiGateway" and pairs == {"ApiId": "resolved"}
    # And the freshness, event lag and drift are on it
    assert {"MirrorFreshness", "UserEventLag", "ReconcileDrift", "MirrorWrite", "MirrorWriteFailed"} <= shown


def test_the_alarms_on_what_users_feel_page_the_topic_with_overridable_thresholds(
    stack: PackagedStack,
) -> None:
    config = load_serverless()
    alarms = stack.resources_of_type("AWS::CloudWatch::Alarm")
    parameters = stack.template["Parameters"]
    for logical_id, (parameter, param) in NEW_ALARMS.items():
        properties = alarms[logical_id]["Properties"]
        # Each threshold is a stack parameter whose default is the documented param's
        assert properties["Threshold"] == {"Ref": parameter}
        assert str(parameters[parameter]["Default"]) == str(config["params"]["default"][param])
        assert f"**{param}**" in RUNBOOK
    # And every alarm, old and new, pages the one alarm topic
    for properties in (alarm["Properties"] for alarm in alarms.values()):
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarms["ApiLatencyAlarm"]["Properties"]["ExtendedStatistic"] == "p99"
    paths = {
        dimension["Value"]
        for query in alarms["FreshnessAlarm"]["Properties"]["Metrics"]
        if "MetricStat" in query and query["MetricStat"]["Stat"] == "p99"
        for dimension in query["MetricStat"]["Metric"]["Dimensions"]
        if dimension["Name"] == PATH_DIMENSION
    }
    assert paths == set(FRESHNESS_PATHS) - {"backfill"}  # the backfill CLI reports in its summary


def test_every_alarm_has_its_runbook_entry(stack: PackagedStack) -> None:
    alarms = set(stack.resources_of_type("AWS::CloudWatch::Alarm"))
    entries = set(re.findall(r"^### (\w+)$", RUNBOOK, flags=re.MULTILINE))
    assert alarms <= entries, sorted(alarms - entries)
    assert {entry for entry in entries if entry.endswith("Alarm")} <= alarms


def test_every_name_a_runbook_command_uses_is_one_the_stack_creates(stack: PackagedStack) -> None:
    # Given the runbook's names, with the stage the package was built for
    text = RUNBOOK.replace("$STAGE", STAGE).replace("<stage>", STAGE)
    # (a placeholder such as `-<function>` is no name)
    used = set(re.findall(rf"(?:/aws/[\w-]+/)?{SERVICE}-{STAGE}(?:-[A-Za-z][\w-]*[A-Za-z])?(?!-<)", text))
    # Then each is a resource name of the template (or the stack's own name)
    assert used - names_in(stack) == set()
    assert {
        f"{SERVICE}-{STAGE}-sync-dlq",
        f"{SERVICE}-{STAGE}-user-events",
        f"{SERVICE}-{STAGE}-repairUser",
    } <= used
    # And the stack outputs it reads exist
    for output in re.findall(r"OutputKey=='(\w+)'", RUNBOOK):
        assert output in stack.template["Outputs"]


def test_the_runbooks_backfill_options_and_queries_exist() -> None:
    options = {option for action in build_parser()._actions for option in action.option_strings}
    for line in re.findall(r"python -m functions\.backfill[^\n]*(?:\\\n[^\n]*)*", RUNBOOK):
        assert set(re.findall(r"--[a-z-]+", line)) <= options
    assert "--verify" in RUNBOOK and "--prune" in RUNBOOK
    named = set(re.findall(r"`([a-z-]+)`", RUNBOOK)) & {p.stem for p in QUERIES.glob("*")}
    for name in re.findall(r"query `([a-z-]+)`", RUNBOOK):
        assert (QUERIES / f"{name}.logsinsights").exists(), name
    assert {p.stem for p in QUERIES.glob("*.logsinsights")} <= named  # each shipped query is referenced


def test_the_api_query_reads_fields_the_access_log_writes(stack: PackagedStack) -> None:
    stage = stack.template["Resources"]["HttpApiStage"]["Properties"]
    written = set(json.loads(stage["AccessLogSettings"]["Format"]))
    fields = parse((QUERIES / "api-errors.logsinsights").read_text()).fields - {"@timestamp"}
    assert fields <= written
    log_group = Path(stage["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0])
    name = stack.template["Resources"][str(log_group)]["Properties"]["LogGroupName"]
    assert name in RUNBOOK.replace("<stage>", STAGE)
