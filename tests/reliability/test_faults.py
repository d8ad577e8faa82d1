"""DynamoDB and Cognito faults during the triggers and GET /me, injected on loopback.

DynamoDB (or Cognito) is pointed at a server the test starts on 127.0.0.1 that throttles,
fails with a 5xx, accepts and never answers, or is not there at all. Then:
- a trigger returns the event unchanged and counts the failure (sign-in never breaks);
- GET /me serves the cached profile if it has one, else a JSON 503 with Retry-After; never a hang.
Elapsed times are recorded as test properties (`--junitxml`), not asserted: the bound comes from
the trigger budget and the client timeouts, measured in RELIABILITY.md.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.common.reader import mirror_reader
from models.settings import get_settings
from models.table import table_for_settings
from tests.support.fixtures import reset_process_state
from tests.support.helpers import FakeLambdaContext, body, http_event, trigger_event
from tests.support.loopback import Server, closed_port, json_server, silent_server
from tests.support.metrics import emitted
from tests.support.users import mirror_user

pytestmark = pytest.mark.loopback


def ddb_error(status: int, kind: str) -> Callable[[str, str, bytes], tuple[int, Any]]:
    return lambda method, path, raw: (
        status,
        {"__type": f"com.amazonaws.dynamodb.v20120810#{kind}", "message": kind},
    )


DDB_FAULTS: dict[str, Callable[[], contextlib.AbstractContextManager[Server]]] = {
    "throttled (ProvisionedThroughputExceeded)": lambda: json_server(
        ddb_error(400, "ProvisionedThroughputExceededException")
    ),
    "throttled (ThrottlingException)": lambda: json_server(ddb_error(400, "ThrottlingException")),
    "500 InternalServerError": lambda: json_server(ddb_error(500, "InternalServerError")),
    "503 ServiceUnavailable": lambda: json_server(ddb_error(503, "ServiceUnavailable")),
    "accepts, never answers": silent_server,
    "closed port": lambda: contextlib.nullcontext(Server(url=closed_port())),
}


def _rebind() -> None:
    # The table and the API's reader build their DynamoDB clients again, from the environment;
    # the reader keeps its profile cache.
    get_settings.cache_clear()
    table_for_settings.cache_clear()
    mirror_reader()._dynamodb = None


@contextlib.contextmanager
def dynamodb_at(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the mirror at `url` without touching the API's profile cache."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
    _rebind()
    try:
        yield
    finally:
        monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
        _rebind()


def mirrored(sub: str) -> None:
    mirror_user(sub, "jane.doe", {"email": "jane.doe@example.com", "phone_number": "+15555550100"})


def get_me(sub: str) -> dict[str, Any]:
    from functions.api import handler

    claims = {"sub": sub, "token_use": "access"}
    response: dict[str, Any] = handler(http_event("/me", claims=claims), FakeLambdaContext())
    return response


@pytest.mark.parametrize("fault", sorted(DDB_FAULTS))
@pytest.mark.parametrize("trigger", ["post_confirmation", "post_authentication"])
def test_a_trigger_returns_the_event_and_counts_the_failure_whatever_dynamodb_does(
    fault: str, trigger: str, monkeypatch: pytest.MonkeyPatch, capsys: Any, record_property: Any
) -> None:
    from functions.post_authentication import handler as post_authentication
    from functions.post_confirmation import handler as post_confirmation

    handler = post_confirmation if trigger == "post_confirmation" else post_authentication
    fixture = "post_confirmation_confirm_signup" if trigger == "post_confirmation" else "post_authentication"
    event = trigger_event(fixture, sub=str(uuid.uuid4()), username="jane.doe")
    # Given DynamoDB failing in this way
    with DDB_FAULTS[fault]() as server, dynamodb_at(server.url, monkeypatch):
        # When Cognito invokes the trigger
        started = time.perf_counter()
        returned = handler(event, FakeLambdaContext())
        elapsed = time.perf_counter() - started
    # Then the event comes back as it came, and the failure is counted once
    assert returned is event
    assert returned == trigger_event(
        fixture, sub=event["request"]["userAttributes"]["sub"], username="jane.doe"
    )
    assert emitted(capsys.readouterr().out)["MirrorWriteFailed"] == 1
    record_property("elapsed_s", round(elapsed, 3))
    record_property("attempts_seen", len(server.requests))


def test_a_trigger_with_little_time_left_gives_up_within_what_remains(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, record_property: Any
) -> None:
    from functions.post_authentication import handler

    # Given DynamoDB never answering and a Lambda with 1 s left (budget: 1 s minus the margin)
    event = trigger_event("post_authentication", sub=str(uuid.uuid4()), username="jane.doe")
    with silent_server() as server, dynamodb_at(server.url, monkeypatch):
        started = time.perf_counter()
        returned = handler(event, FakeLambdaContext(remaining_ms=1000))
        elapsed = time.perf_counter() - started
    # Then the event comes back, and the write was abandoned as over budget
    assert returned is event
    assert emitted(capsys.readouterr().out)["MirrorWriteFailed"] == 1
    record_property("elapsed_s", round(elapsed, 3))


@pytest.mark.parametrize("fault", sorted(DDB_FAULTS))
def test_get_me_without_a_cached_profile_is_a_json_503_when_dynamodb_fails(
    fault: str, monkeypatch: pytest.MonkeyPatch, capsys: Any, record_property: Any
) -> None:
    # Given a mirrored caller and nothing cached, then DynamoDB failing
    sub = str(uuid.uuid4())
    mirrored(sub)
    with DDB_FAULTS[fault]() as server, dynamodb_at(server.url, monkeypatch):
        # When the caller reads /me
        started = time.perf_counter()
        response = get_me(sub)
        elapsed = time.perf_counter() - started
    # Then a clear JSON 503 asks to retry, and the failed read is counted
    assert response["statusCode"] == 503
    assert body(response) == {"statusCode": 503, "message": "Service temporarily unavailable"}
    assert response["headers"]["Retry-After"] == "1"
    assert emitted(capsys.readouterr().out)["MirrorReadFailed"] == 1
    record_property("elapsed_s", round(elapsed, 3))


@pytest.mark.parametrize("fault", sorted(DDB_FAULTS))
def test_get_me_serves_the_stale_cached_profile_when_dynamodb_fails(
    fault: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Given a caller read once (cached, with a TTL that has run out) ...
    monkeypatch.setenv("MIRROR_CACHE_TTL_SECONDS", "0.000001")
    reset_process_state()
    sub = str(uuid.uuid4())
    mirrored(sub)
    assert get_me(sub)["statusCode"] == 200
    # ... then DynamoDB failing
    with DDB_FAULTS[fault]() as server, dynamodb_at(server.url, monkeypatch):
        # When the caller reads /me again
        response = get_me(sub)
    # Then the stale profile is served, and the failed read is still counted
    assert response["statusCode"] == 200
    assert body(response)["sub"] == sub
    assert emitted(capsys.readouterr().out)["MirrorReadFailed"] == 1


COGNITO_FAULTS: dict[str, Callable[[], contextlib.AbstractContextManager[Server]]] = {
    "TooManyRequestsException": lambda: json_server(
        lambda m, p, b: (400, {"__type": "TooManyRequestsException", "message": "Rate exceeded"})
    ),
    "500 InternalErrorException": lambda: json_server(
        lambda m, p, b: (500, {"__type": "InternalErrorException", "message": "boom"})
    ),
    "closed port": lambda: contextlib.nullcontext(Server(url=closed_port())),
}


@pytest.mark.parametrize("fault", sorted(COGNITO_FAULTS))
def test_read_through_during_a_cognito_fault_is_a_json_503_and_writes_nothing(
    fault: str, monkeypatch: pytest.MonkeyPatch, raw_item: Any, record_property: Any
) -> None:
    # Given a caller the mirror does not know yet, and Cognito failing
    monkeypatch.setenv("USER_POOL_ID", "eu-west-1_RELIAB")
    sub = str(uuid.uuid4())
    with COGNITO_FAULTS[fault]() as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", server.url)
        reset_process_state()
        # When the caller reads /me (read-through)
        started = time.perf_counter()
        response = get_me(sub)
        elapsed = time.perf_counter() - started
    # Then a JSON 503 asks to retry, and nothing was written to the mirror
    assert response["statusCode"] == 503
    assert body(response) == {"statusCode": 503, "message": "Service temporarily unavailable"}
    assert raw_item(sub) is None
    record_property("elapsed_s", round(elapsed, 3))
    record_property("attempts_seen", len(server.requests))
