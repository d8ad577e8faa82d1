"""cognito_mirror in a user's own Powertools resolver: answers, errors, cache, identity rules."""

from __future__ import annotations

import ast
import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

import cognito_mirror
from cognito_mirror import (
    MirrorReader,
    MirrorUnavailableError,
    Profile,
    UserNotFoundError,
    caller_profile,
    error_response,
    profile_middleware,
)
from cognito_mirror._reader import default_reader
from models.table import mirror_table
from models.user import UserSnapshot, now_us
from tests.support.fixtures import TABLE
from tests.support.helpers import FakeLambdaContext, body, http_event

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"
LIBRARY = Path(cognito_mirror.__file__).parent


@pytest.fixture(autouse=True)
def _fresh_reader() -> Any:
    default_reader.cache_clear()
    yield
    default_reader.cache_clear()


def mirror(sub: str = SUB, *, enabled: bool = True, username: str = "jane.doe") -> None:
    snapshot = UserSnapshot(
        sub=sub,
        username=username,
        attributes={"email": "jane@example.com", "custom:tenant": "acme"},
        status="CONFIRMED",
        enabled=enabled,
        observed_at=now_us(),
        source="post_confirmation",
    )
    mirror_table().put_snapshot(snapshot)


def claims(sub: str = SUB, **extra: Any) -> dict[str, Any]:
    return {"sub": sub, "username": "jane.doe", "token_use": "access", **extra}


def user_app() -> APIGatewayHttpResolver:
    """What a user writes: a resolver, our middleware, and one route."""
    app = APIGatewayHttpResolver()
    app.use(middlewares=[profile_middleware])

    @app.get("/me")
    def me() -> dict[str, Any]:
        return caller_profile(app).to_dict()

    return app


def get_me(event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = user_app().resolve(event, FakeLambdaContext())
    return response


def store_down() -> None:
    """From now on every GetItem of the process's reader fails at the connection (DynamoDB down)."""
    from botocore.exceptions import EndpointConnectionError

    def refuse(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    cognito_mirror.default_reader()._ddb().meta.events.register("before-send.dynamodb.GetItem", refuse)


# --- a user's resolver with the middleware ---------------------------------------------------


def test_a_mirrored_caller_gets_their_profile_through_the_middleware() -> None:
    # Given a mirrored user
    mirror()
    # When they call the user's route
    response = get_me(http_event("/me", claims=claims()))
    # Then the route sees their full profile
    assert response["statusCode"] == 200
    assert body(response)["attributes"] == {"email": "jane@example.com", "custom:tenant": "acme"}


@pytest.mark.parametrize(
    ("case", "status", "header"),
    [
        ("no identity", 401, "WWW-Authenticate"),
        ("disabled", 403, "Cache-Control"),
        ("unknown", 404, "Cache-Control"),
        ("deleted", 404, "Cache-Control"),
        ("store down", 503, "Retry-After"),
        ("no such table", 500, "Cache-Control"),
    ],
)
def test_the_middleware_answers_each_failure_with_json_and_its_headers(
    case: str, status: int, header: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one failing situation
    event = http_event("/me", claims=claims())
    if case == "no identity":
        event = http_event("/me", claims=None)
    elif case == "disabled":
        mirror(enabled=False)
    elif case == "deleted":
        mirror_table().put_tombstone(SUB, observed_at=now_us(), source="attribute_sync")
    elif case == "store down":
        store_down()
    elif case == "no such table":
        monkeypatch.setenv("MIRROR_TABLE", "no-such-table")
    # When the caller calls the route
    response = get_me(event)
    # Then a JSON error with a message and the right headers, a 500 only for the deployment's fault
    assert response["statusCode"] == status
    assert isinstance(body(response)["message"], str)
    assert header in response["headers"]
    assert response["headers"]["Cache-Control"] == "no-store"


def test_without_the_middleware_our_errors_still_become_their_status_in_a_resolver() -> None:
    # Given a user route that calls get_caller_profile itself, with no exception handler
    app = APIGatewayHttpResolver()

    @app.get("/me")
    def me() -> dict[str, Any]:
        return cognito_mirror.get_caller_profile(app.current_event).to_dict()

    # When an unknown user calls it
    response = app.resolve(http_event("/me", claims=claims()), FakeLambdaContext())
    # Then Powertools answers our ServiceError as a JSON 404, not a 500
    assert response["statusCode"] == 404
    assert body(response)["message"] == "User not found"


def test_error_response_shapes_an_http_api_answer_for_plain_handlers() -> None:
    # Given a plain Lambda handler catching our error
    exc = MirrorUnavailableError("DynamoDB throttled")
    # When it turns the error into a response
    response = error_response(exc)
    # Then the body is JSON with a message and the reason stays out of it
    assert response["statusCode"] == 503
    assert json.loads(response["body"]) == {"statusCode": 503, "message": "Service temporarily unavailable"}
    assert response["headers"]["Retry-After"] == "1"
    assert "throttled" not in response["body"]


def test_admin_lookup_returns_a_disabled_user_with_enabled_false() -> None:
    # Given a disabled user
    mirror(enabled=False)
    # When an admin tool reads them by sub
    profile = MirrorReader.from_env().get(SUB)
    # Then the profile comes back, marked disabled
    assert profile.enabled is False


def test_get_caller_profile_refuses_a_disabled_caller_with_a_403_kind_error() -> None:
    from aws_lambda_powertools.event_handler.exceptions import ForbiddenError

    from cognito_mirror import UserDisabledError

    # Given a disabled user
    mirror(enabled=False)
    # When a handler asks the library for their profile
    with pytest.raises(UserDisabledError) as raised:
        cognito_mirror.get_caller_profile(http_event("/me", claims=claims()))
    # Then a 403-kind error that says so
    assert isinstance(raised.value, ForbiddenError)
    assert (raised.value.status_code, raised.value.msg) == (403, "User is disabled")


# --- immutability ------------------------------------------------------------------------------


def test_a_profile_cannot_be_changed_by_its_reader() -> None:
    # Given a cached profile
    mirror()
    reader = MirrorReader.from_env()
    profile = reader.get(SUB)
    # When the caller tries to change it, or changes what to_dict() gave them
    with pytest.raises(AttributeError):
        profile.username = "mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        profile.attributes["email"] = "x@example.com"  # type: ignore[index]
    profile.to_dict()["attributes"]["email"] = "x@example.com"
    # Then the next read is the same profile
    assert reader.get(SUB).attributes["email"] == "jane@example.com"


# --- cache -------------------------------------------------------------------------------------


class CountingDdb:
    """A DynamoDB client that counts GetItem calls, and can fail or be slowed on demand."""

    def __init__(self) -> None:
        self.inner = boto3.client("dynamodb")
        self.calls = 0
        self.fail = False
        self.delay = 0.0

    def get_item(self, **kwargs: Any) -> Any:
        from botocore.exceptions import EndpointConnectionError

        self.calls += 1
        time.sleep(self.delay)
        if self.fail:
            raise EndpointConnectionError(endpoint_url="http://dynamodb")
        return self.inner.get_item(**kwargs)


def eight_reads_at_once(reader: MirrorReader) -> list[Profile]:
    results: list[Profile] = []
    threads = [threading.Thread(target=lambda: results.append(reader.get(SUB))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_cached_profile_is_served_without_reading_the_table() -> None:
    # Given a profile read once
    mirror()
    ddb = CountingDdb()
    reader = MirrorReader(TABLE, dynamodb=ddb)
    reader.get(SUB)
    # When it is read again within the TTL
    reader.get(SUB)
    # Then the table was read once
    assert ddb.calls == 1


def test_not_found_is_cached_for_its_own_ttl() -> None:
    # Given a reader that remembers "not found" for 60 s and profiles for 0 s
    ddb = CountingDdb()
    reader = MirrorReader(TABLE, dynamodb=ddb, cache_ttl_seconds=0, not_found_ttl_seconds=60)
    with pytest.raises(UserNotFoundError):
        reader.get(SUB)
    # When the unknown sub is asked again
    with pytest.raises(UserNotFoundError):
        reader.get(SUB)
    # Then the table was read once
    assert ddb.calls == 1


@pytest.mark.parametrize("variable", ["MIRROR_CACHE_TTL_SECONDS", "MIRROR_NOT_FOUND_TTL_SECONDS"])
def test_a_ttl_of_zero_in_the_environment_reads_the_table_every_time(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given that TTL set to 0, and a user mirrored (profiles) or not (not found)
    monkeypatch.setenv(variable, "0")
    if variable == "MIRROR_CACHE_TTL_SECONDS":
        mirror()
    ddb = CountingDdb()
    reader = MirrorReader.from_env(dynamodb=ddb, repair=None)
    # When the sub is read three times
    for _ in range(3):
        with contextlib.suppress(UserNotFoundError):
            reader.get(SUB)
    # Then each read asked the table
    assert ddb.calls == 3


def test_concurrent_misses_for_one_sub_read_the_table_once() -> None:
    # Given a slow table and a mirrored user
    mirror()
    ddb = CountingDdb()
    ddb.delay = 0.2
    reader = MirrorReader(TABLE, dynamodb=ddb)
    # When eight requests for that sub arrive at once
    results = eight_reads_at_once(reader)
    # Then they share one read
    assert len(results) == 8
    assert ddb.calls == 1


def test_stale_profile_is_served_while_the_store_fails_but_only_within_the_bound() -> None:
    # Given a profile cached for 0.1 s with stale-if-error of 0.3 s
    mirror()
    ddb = CountingDdb()
    reader = MirrorReader(TABLE, dynamodb=ddb, cache_ttl_seconds=0.1, stale_if_error_seconds=0.3)
    reader.get(SUB)
    ddb.fail = True
    time.sleep(0.15)
    # When the store fails just after expiry, then long after
    served = reader.get(SUB)
    time.sleep(0.4)
    # Then the stale profile is served, and past the bound the answer is 503
    assert served.sub == SUB
    with pytest.raises(MirrorUnavailableError):
        reader.get(SUB)


@pytest.mark.parametrize(
    ("row", "error"),
    [("none", MirrorUnavailableError), ("tombstone", UserNotFoundError)],
)
def test_an_expired_404_is_served_stale_only_for_a_tombstone(row: str, error: type[Exception]) -> None:
    # Given "not found" cached for 0.1 s (an unknown sub, or a deleted user), then the store failing
    if row == "tombstone":
        mirror_table().put_tombstone(SUB, observed_at=now_us(), source="attribute_sync")
    ddb = CountingDdb()
    reader = MirrorReader(TABLE, dynamodb=ddb, cache_ttl_seconds=0.1, not_found_ttl_seconds=0.1)
    with pytest.raises(UserNotFoundError):
        reader.get(SUB)
    ddb.fail = True
    time.sleep(0.15)
    # When the sub is asked again
    # Then an unknown user is a 503 (they may have signed up since); a deleted one stays 404 (final)
    with pytest.raises(error):
        reader.get(SUB)


# --- repair on a miss --------------------------------------------------------------------------


def test_a_miss_asks_the_repair_function_once_and_serves_its_profile() -> None:
    # Given an empty mirror and a repair that knows the user
    asked: list[tuple[str, str | None]] = []
    profile = {"sub": SUB, "username": "jane.doe", "attributes": {"email": "jane@example.com"}}
    profile |= {"status": "CONFIRMED", "enabled": True, "updated_at": "2026-12-01T00:00:00.000Z"}

    def repair(sub: str, username: str | None) -> Profile:
        asked.append((sub, username))
        return Profile.from_dict(profile)

    reader = MirrorReader(TABLE, repair=repair)
    # When the caller reads twice
    first = reader.get_caller_profile(http_event("/me", claims=claims()))
    reader.get_caller_profile(http_event("/me", claims=claims()))
    # Then repair was asked once, with the token's username, and its profile served
    assert asked == [(SUB, "jane.doe")]
    assert first.attributes == {"email": "jane@example.com"}


def test_concurrent_misses_ask_the_repair_once() -> None:
    # Given an empty mirror and a slow repair that knows the user
    asked: list[str] = []
    profile = {"sub": SUB, "username": "jane.doe", "attributes": {}, "status": "CONFIRMED"}
    profile |= {"enabled": True, "updated_at": "2026-12-01T00:00:00.000Z"}

    def repair(sub: str, username: str | None) -> Profile:
        asked.append(sub)
        time.sleep(0.2)
        return Profile.from_dict(profile)

    reader = MirrorReader(TABLE, repair=repair)
    # When eight requests for that sub arrive at once
    results = eight_reads_at_once(reader)
    # Then every one is served, from one repair
    assert [result.sub for result in results] == [SUB] * 8
    assert asked == [SUB]


def unavailable(sub: str, username: str | None) -> Profile | None:
    raise MirrorUnavailableError("Cognito unavailable")


def another_user(sub: str, username: str | None) -> Profile | None:
    return Profile.from_dict(
        {"sub": "someone-else", "username": "x", "attributes": {}, "status": "CONFIRMED", "enabled": True}
        | {"updated_at": "2026-12-01T00:00:00.000Z"}
    )


@pytest.mark.parametrize("repair", [unavailable, another_user])
def test_a_failed_repair_or_one_answering_another_user_is_a_503(repair: Any) -> None:
    # Given a repair that fails or answers another user's profile
    reader = MirrorReader(TABLE, repair=repair)
    # When a missing user is read / Then 503, never the other user's profile
    with pytest.raises(MirrorUnavailableError):
        reader.get(SUB)


def test_the_repair_lambda_is_invoked_synchronously_by_name() -> None:
    # Given a Lambda client stand-in answering not found
    class FakeLambda:
        calls: list[dict[str, Any]] = []

        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            self.calls.append(kwargs)
            import io

            return {"StatusCode": 200, "Payload": io.BytesIO(b'{"found": false}')}

    fake = FakeLambda()
    reader = MirrorReader(TABLE, repair="mirror-prod-repairUser", lambda_client=fake)
    # When a missing user is read
    with pytest.raises(UserNotFoundError):
        reader.get(SUB)
    # Then one RequestResponse invoke named the function and the sub
    (call,) = fake.calls
    assert call["FunctionName"] == "mirror-prod-repairUser"
    assert call["InvocationType"] == "RequestResponse"
    assert json.loads(call["Payload"]) == {"sub": SUB, "username": None}


# --- independence from the mirror's own code ---------------------------------------------------


def test_the_library_imports_nothing_from_the_mirror_stack() -> None:
    # Given every module of the library / When their imports are read
    imported: set[str] = set()
    for path in LIBRARY.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    # Then none is the stack's own package
    assert not imported & {"functions", "models", "scripts", "tests", "bench"}


def test_importing_and_using_the_library_creates_no_powertools_logger_of_ours() -> None:
    # Given a fresh process with a user's service name
    code = (
        "import logging, cognito_mirror\n"
        "from cognito_mirror import MirrorReader\n"
        "MirrorReader('t')\n"
        "names = set(logging.root.manager.loggerDict)\n"
        "print('user-service' in names or 'cognito-attribute-mirror' in names)\n"
    )
    env = {"POWERTOOLS_SERVICE_NAME": "user-service", "PATH": "/usr/bin:/bin"}
    # When it imports and uses the library
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=LIBRARY.parent, check=True
    )
    # Then no Powertools Logger was built (it would register a logger under the service name)
    assert out.stdout.strip() == "False"


def test_metrics_go_only_to_the_users_own_metrics_object() -> None:
    # Given the user's own Powertools Metrics and a mirrored user
    from aws_lambda_powertools import Metrics

    mirror()
    metrics = Metrics(namespace="UserService", service="user-service")
    reader = MirrorReader(TABLE, metrics=metrics)
    # When the user is read twice
    reader.get(SUB)
    reader.get(SUB)
    # Then the reads were counted there
    recorded = metrics.serialize_metric_set()["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert {"ProfileMirrorRead", "ProfileCacheHit"} <= {metric["Name"] for metric in recorded}
    metrics.clear_metrics()
