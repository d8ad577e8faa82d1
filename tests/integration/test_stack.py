"""The local stack itself: health, isolation of ports, and a clean stop when a start fails."""

from __future__ import annotations

import json

import pytest
import requests

from scripts import stack as local_stack
from scripts.dynamodb_local import LocalServiceError, port_in_use
from scripts.ports import Ports
from scripts.stack import LocalStack
from scripts.stack_info import StackInfo


def test_every_service_answers_on_its_own_port(stack: StackInfo):
    # Given the session's running stack
    # When each service is asked for something only it serves
    table = stack.client("dynamodb").describe_table(TableName=stack.table)["Table"]
    jwks = requests.get(f"{stack.issuer}/.well-known/jwks.json", timeout=5).json()
    invoked = stack.client("lambda").invoke(
        FunctionName=stack.function_name("postConfirmation"), Payload=b'{"triggerSource": "unknown"}'
    )
    # Then the table has the deployed key, the pool publishes its key, and the trigger Lambda answers
    assert table["KeySchema"] == [{"AttributeName": "sub", "KeyType": "HASH"}]
    assert jwks["keys"]
    assert json.loads(invoked["Payload"].read()) == {"triggerSource": "unknown"}


def test_a_start_that_fails_midway_stops_everything_it_started(tmp_path, monkeypatch: pytest.MonkeyPatch):
    # Given a stack whose user pool creation fails after two services are up
    def broken_pool(cognito: object) -> tuple[str, str]:
        raise LocalServiceError("pool creation failed")

    monkeypatch.setattr(local_stack, "create_pool", broken_pool)
    ports = Ports.free()
    stack = LocalStack(ports=ports, state_dir=tmp_path, say=lambda line: None)
    # When it starts
    with pytest.raises(LocalServiceError, match="pool creation failed"):
        stack.start()
    # Then nothing it started is left running
    assert not port_in_use(ports.dynamodb)
    assert not port_in_use(ports.cognito)
