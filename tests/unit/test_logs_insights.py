"""The Logs Insights queries of docs/queries/ parse, and read only fields the code writes to its logs."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

from functions.common.backfill.summary import Summary
from functions.common.observability import LAG_METRICS, PATH_DIMENSION
from scripts.logs_insights import QueryError, parse

ROOT = Path(__file__).resolve().parents[2]
QUERIES = sorted((ROOT / "docs" / "queries").glob("*.logsinsights"))
# Read from the HTTP API's access log (tests/deploy checks them against its format), not our code.
ACCESS_LOG_QUERIES = {"api-errors"}
# What Powertools' Logger writes on every line, and what Logs Insights adds to each event.
POWERTOOLS_KEYS = {
    "level", "location", "message", "timestamp", "service", "cold_start", "function_name",
    "function_memory_size", "function_arn", "function_request_id", "xray_trace_id", "exception",
    "exception_name", "stack_trace",
}  # fmt: skip
LOGS_INSIGHTS_KEYS = {
    "@timestamp", "@message", "@log", "@logStream", "@requestId", "@type", "@duration",
    "@billedDuration", "@initDuration", "@maxMemoryUsed", "@memorySize",
}  # fmt: skip


def _dict_keys(node: ast.AST, named: dict[str, set[str]]) -> set[str]:
    keys: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Dict):
            for key, value in zip(child.keys, child.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    keys.add(key.value)
                elif key is None and isinstance(value, ast.Name):  # {**log, ...}
                    keys |= named.get(value.id, set())
        elif isinstance(child, ast.Name):  # extra=log
            keys |= named.get(child.id, set())
    return keys


def logged_keys() -> set[str]:
    """The keys our code passes as `extra=` to the logger, read from functions/ (no running)."""
    keys: set[str] = set()
    for path in (ROOT / "functions").rglob("*.py"):
        tree = ast.parse(path.read_text())
        named = {
            target.id: {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                for keyword in node.keywords:
                    if keyword.arg == "extra":
                        keys |= _dict_keys(keyword.value, named)
    return keys


@functools.cache
def known_fields() -> frozenset[str]:
    """Fields a query may read in the functions' log groups: Powertools' keys, ours, the reconcile's
    summary (logged whole), the lag metrics' EMF keys (an array: `.0` is its first value)."""
    lag = {name for metric in LAG_METRICS for name in (metric.name, f"{metric.name}.0")}
    summary = set(Summary().as_dict())
    return frozenset(POWERTOOLS_KEYS | LOGS_INSIGHTS_KEYS | logged_keys() | summary | lag | {PATH_DIMENSION})


def test_queries_are_shipped() -> None:
    assert len(QUERIES) >= 6


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.stem)
def test_each_query_parses_and_reads_only_fields_the_code_logs(path: Path) -> None:
    # Given a shipped query
    query = parse(path.read_text())
    # Then it has commands, and every field it reads is written by the code (or by Logs Insights)
    assert query.commands
    if path.stem not in ACCESS_LOG_QUERIES:
        assert query.fields <= known_fields(), sorted(query.fields - known_fields())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fields a | filtr a = 1", "unknown command"),
        ('fields a | filter message = "open', "unclosed"),
        ("fields a | filter message like /open", "unclosed regex"),
        ("stats count(* by a", "unclosed '('"),
        ("stats count(*)) by a", "closes no"),
        ("fields a || limit 5", "empty command"),
        ("fields a | limit five", "limit takes a number"),
    ],
)
def test_a_broken_query_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(QueryError, match=re.escape(problem)):
        parse(text)


def test_fields_leave_out_functions_keywords_aliases_units_and_literals() -> None:
    query = parse(
        'fields @timestamp, sub | filter message like /a|b/ and level = "x|y"'
        " | stats pct(lag, 99) as p99 by bin(5m), path | sort p99 desc | limit 10"
    )
    assert query.fields == {"@timestamp", "sub", "message", "level", "lag", "path"}
    assert [command for command, _ in query.commands] == ["fields", "filter", "stats", "sort", "limit"]


def test_a_field_the_code_never_logs_is_caught() -> None:
    assert "emial" not in known_fields()
    assert {"sub", "event_name", "outcome", "attribute_names", "MirrorFreshness.0"} <= known_fields()
