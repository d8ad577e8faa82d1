"""Every `aws` command of the runbook (docs/OPERATIONS.md) is a real operation with real options,
checked against the service models botocore ships (no call is made)."""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

RUNBOOK = (Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md").read_text()
# The CLI's own options, valid on every command.
GLOBAL_OPTIONS = {"query", "output", "cli-binary-format", "region", "profile", "endpoint-url"}
_COMMAND = re.compile(r"\baws ([a-z0-9]+) ([a-z0-9-]+)([^\n`]*)")


def runbook_commands() -> list[tuple[str, str, set[str]]]:
    text = RUNBOOK.replace("\\\n", " ")
    return [
        (service, operation, set(re.findall(r"(?<![\w-])--([a-z0-9-]+)", rest)))
        for service, operation, rest in _COMMAND.findall(text)
    ]


def test_the_runbook_has_its_commands() -> None:
    operations = {(service, operation) for service, operation, _ in runbook_commands()}
    assert {
        ("sqs", "start-message-move-task"),
        ("events", "start-replay"),
        ("secretsmanager", "put-secret-value"),
        ("lambda", "invoke"),
    } <= operations


@pytest.mark.parametrize(
    ("service", "operation", "options"),
    runbook_commands(),
    ids=lambda v: ",".join(sorted(v)) if isinstance(v, set) else str(v),
)
def test_each_aws_command_is_an_operation_with_those_parameters(
    service: str, operation: str, options: set[str]
) -> None:
    model = botocore.session.get_session().get_service_model(service)
    names = {xform_name(name, "-"): name for name in model.operation_names}
    assert operation in names, f"aws {service} {operation}: no such operation"
    shape = model.operation_model(names[operation]).input_shape
    parameters = {xform_name(member, "-") for member in (shape.members if shape else {})}
    assert options - GLOBAL_OPTIONS <= parameters, sorted(options - GLOBAL_OPTIONS - parameters)
