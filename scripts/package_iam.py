"""The IAM grants of a packaged template, and the wildcards among them that nothing justifies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# The only IAM grants with a wildcard action or resource allowed in a generated template, by
# (role, action): each is required by AWS or by a name this stack cannot know (see serverless.yml).
ALLOWED_WILDCARDS: dict[tuple[str, str], str] = {
    ("IamRoleCustomResourcesLambdaExecution", "cognito-idp:ListUserPools"): (
        "ListUserPools has no resource-level permissions; the framework finds an existing pool by name"
    ),
    ("IamRoleCustomResourcesLambdaExecution", "iam:PassRole"): (
        "UpdateUserPool re-sends the existing pool's SMS role (unknown name); only to cognito-idp"
    ),
}
# Every DynamoDB action that writes an item.
DYNAMODB_WRITES = frozenset(
    {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:PartiQLInsert",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PartiQLDelete",
    }
)
# Log streams of one named log group: `...:log-group:<name>:*` (and `:*:*` for PutLogEvents).
_LOG_STREAM_SUFFIXES = (":*", ":*:*")


@dataclass(frozen=True)
class Grant:
    """One (action, resource) pair of an IAM role's inline policies in a template."""

    role: str
    effect: str
    action: str
    resource: str
    condition: bool

    @property
    def wildcard(self) -> bool:
        if "*" in self.action:
            return True
        if "*" not in self.resource:
            return False
        if ":log-group:" in self.resource and self.resource.endswith(_LOG_STREAM_SUFFIXES):
            return "*" in self.resource.split(":log-group:", 1)[1].split(":", 1)[0]
        return True


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _arn_text(resource: Any) -> str:
    """A resource as text: plain strings as is, Fn::Sub by its pattern, other intrinsics as JSON."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    if isinstance(resource, str):
        return resource
    return json.dumps(resource, sort_keys=True)


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy's statements; a conditional one (`Fn::If`) counts as granted (its true branch)."""
    found = []
    for statement in _as_list(document["Statement"]):
        if "Fn::If" in statement:
            statement = statement["Fn::If"][1]
        if statement != {"Ref": "AWS::NoValue"}:
            found.append(statement)
    return found


def _role_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role, statement) for every statement of the inline policies of the template's roles."""
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in _statements(policy["PolicyDocument"]):
                    yield name, statement


def iam_grants(template: dict[str, Any]) -> list[Grant]:
    """Every (role, action, resource) granted by the inline policies of the template's roles."""
    return [
        Grant(
            role=name,
            effect=statement["Effect"],
            action=action,
            resource=_arn_text(target),
            condition="Condition" in statement,
        )
        for name, statement in _role_statements(template)
        for action in _as_list(statement.get("Action", []))
        for target in _as_list(statement.get("Resource", []))
    ]


def unexpected_wildcards(template: dict[str, Any]) -> list[Grant]:
    """Allowed grants with a wildcard action or resource that ALLOWED_WILDCARDS does not name."""
    return [
        grant
        for grant in iam_grants(template)
        if grant.effect == "Allow" and grant.wildcard and (grant.role, grant.action) not in ALLOWED_WILDCARDS
    ]


def dynamodb_write_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(role, statement) for every Allow statement of the template's roles that grants a DynamoDB
    write (inline policies; a conditional statement counts as granted; `dynamodb:*` and `*` too)."""
    return [
        (name, statement)
        for name, statement in _role_statements(template)
        if statement["Effect"] == "Allow"
        and any(
            action in DYNAMODB_WRITES or action in ("*", "dynamodb:*")
            for action in _as_list(statement.get("Action", []))
        )
    ]
