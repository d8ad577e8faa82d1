"""The deploy template grants no wildcard IAM (actions or resources), checked on every run.

Checks `serverless.yml` (every IAM statement it declares, in provider.iam and in resources) and,
when `npx osls package` has produced it, the generated CloudFormation template too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from scripts.table import ROOT, load_serverless

PACKAGED = ROOT / ".serverless" / "cloudformation-template-update-stack.json"
# Actions AWS only grants on "*" (no resource-level permissions exist for them).
RESOURCE_STAR_ONLY = frozenset(
    {"cloudwatch:PutMetricData", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
)


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in a template (a dict with Effect and Action/NotAction)."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from statements(item)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_grants(template: Any) -> list[str]:
    """Human-readable findings: Allow statements with a wildcard action or resource."""
    findings: list[str] = []
    for statement in statements(template):
        if statement.get("Effect") != "Allow":
            continue
        actions = [a for a in as_list(statement.get("Action", [])) if isinstance(a, str)]
        if "NotAction" in statement or "NotResource" in statement:
            findings.append(f"NotAction/NotResource grant: {statement}")
        findings.extend(f"wildcard action {a!r}" for a in actions if a == "*" or a.endswith(":*"))
        for resource in as_list(statement.get("Resource", [])):
            if resource == "*" and not set(actions) <= RESOURCE_STAR_ONLY:
                findings.append(f"Resource '*' for {sorted(actions)}")
    return findings


def test_the_checker_flags_wildcards_and_accepts_scoped_grants() -> None:
    # Given statements with wildcard actions and resources, and a scoped one
    template = {
        "a": {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:::table/x"},
        "b": [{"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "*"}],
        "c": {"Effect": "Allow", "Action": "*", "Resource": "*"},
        "d": {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*"},
        "e": {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": {"Fn::GetAtt": ["T", "Arn"]}},
    }
    # When checked, Then exactly the wildcard grants are reported
    assert wildcard_grants(template) == [
        "wildcard action 'dynamodb:*'",
        "Resource '*' for ['dynamodb:GetItem']",
        "wildcard action '*'",
        "Resource '*' for ['*']",
    ]


def test_serverless_yml_grants_no_wildcard_iam() -> None:
    # Given the deploy definition, When checked, Then no statement grants a wildcard
    assert wildcard_grants(load_serverless()) == []


def test_the_packaged_template_grants_no_wildcard_iam() -> None:
    # Given the CloudFormation template `npx osls package` generated (when it exists)
    if not PACKAGED.exists():
        pytest.skip("no .serverless/ package: run `npx osls package` to check the generated template")
    # When checked, Then no statement grants a wildcard
    assert wildcard_grants(json.loads(PACKAGED.read_text(encoding="utf-8"))) == []
