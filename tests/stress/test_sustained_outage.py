"""Long outages: a warm container's triggers while DynamoDB hangs, read-through while Cognito hangs."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.support.fixtures import reset_process_state
from tests.support.helpers import FakeLambdaContext, body, http_event, trigger_event
from tests.support.loopback import silent_server
from tests.support.metrics import emitted

INVOCATIONS = 16


def test_a_warm_container_keeps_answering_cognito_through_a_dynamodb_hang(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, record_property: Any
) -> None:
    from functions.post_authentication import handler

    # Given one container whose DynamoDB accepts connections and never answers
    with silent_server() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.url)
        reset_process_state()
        # When Cognito invokes the trigger again and again (more than the writer pool's threads)
        elapsed = []
        for _ in range(INVOCATIONS):
            event = trigger_event("post_authentication", sub=str(uuid.uuid4()), username="jane.doe")
            started = time.perf_counter()
            assert handler(event, FakeLambdaContext()) is event
            elapsed.append(time.perf_counter() - started)
    # Then every invocation returned its event, and every failure was counted
    assert emitted(capsys.readouterr().out)["MirrorWriteFailed"] == INVOCATIONS
    record_property("max_elapsed_s", round(max(elapsed), 3))
    print(
        f"\n{INVOCATIONS} invocations during a DynamoDB hang: max {max(elapsed):.3f} s, "
        f"mean {sum(elapsed) / len(elapsed):.3f} s"
    )


def test_read_through_while_cognito_hangs_is_a_json_503(
    local_mirror: str, monkeypatch: pytest.MonkeyPatch, record_property: Any
) -> None:
    from functions.api import handler

    # Given a caller the mirror does not know, and Cognito accepting connections, never answering
    with silent_server() as server:
        monkeypatch.setenv("USER_POOL_ID", "eu-west-1_STRESS")
        monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", server.url)
        reset_process_state()
        # When the caller reads /me
        started = time.perf_counter()
        claims = {"sub": str(uuid.uuid4()), "token_use": "access"}
        response = handler(http_event("/me", claims=claims), FakeLambdaContext())
        elapsed = time.perf_counter() - started
    # Then, once the client's timeouts and retries are spent, a JSON 503
    assert response["statusCode"] == 503
    assert body(response) == {"statusCode": 503, "message": "Service temporarily unavailable"}
    record_property("elapsed_s", round(elapsed, 3))
    record_property("connections", len(server.requests))
    print(
        f"\nread-through during a Cognito hang: 503 after {elapsed:.3f} s, {len(server.requests)} connections"
    )
