"""Shared test helpers: event fixtures and a fake Lambda context."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of `tests/events/<name>.json`."""
    with (EVENTS / f"{name}.json").open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return copy.deepcopy(data)


@dataclass
class FakeLambdaContext:
    function_name: str = "cognito-mirror-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:cognito-mirror-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    remaining_ms: int = 5000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def trigger_event(
    name: str, *, sub: str, username: str, attributes: dict[str, str] | None = None
) -> dict[str, Any]:
    """A trigger fixture rewritten for one user (attributes replace the fixture's, sub kept)."""
    event = load_event(name)
    event["userName"] = username
    attrs = dict(event["request"]["userAttributes"]) if attributes is None else dict(attributes)
    attrs["sub"] = sub
    event["request"]["userAttributes"] = attrs
    return event


def http_event(
    path: str,
    *,
    claims: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
    fixture: str = "apigw_http_get_me",
) -> dict[str, Any]:
    """An HTTP API v2 event for GET `path` with the given authorizer claims (None: no authorizer)."""
    event = load_event(fixture)
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["routeKey"] = "GET /users/{sub}" if path.startswith("/users/") else "GET /me"
    event["requestContext"]["routeKey"] = event["routeKey"]
    if path.startswith("/users/"):
        event["pathParameters"] = {"sub": path.split("/", 2)[2]}
    if claims is None:
        event["requestContext"].pop("authorizer", None)
    else:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if headers:
        event["headers"].update(headers)
    return event


def users_event(params: dict[str, str] | None, *, claims: dict[str, Any] | None) -> dict[str, Any]:
    """An HTTP API v2 event for GET /users with these query parameters (None: no query string)."""
    from urllib.parse import urlencode

    event = http_event("/users", claims=claims, fixture="apigw_http_get_users")
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /users"
    event["rawQueryString"] = urlencode(params or {})
    if params is None:
        event.pop("queryStringParameters", None)
    else:
        event["queryStringParameters"] = params
    return event


def get_users(
    params: dict[str, str] | None, *, sub: str, groups: Any = "[admin]", username: str | None = None
) -> dict[str, Any]:
    """GET /users through the API's handler, as caller `sub` (access token) whose `cognito:groups`
    claim is `groups` (None: no such claim)."""
    from functions import api

    claims: dict[str, Any] = {
        "sub": sub,
        "username": username or f"user-{sub}",
        "token_use": "access",
        "client_id": "1example23456789",
    }
    if groups is not None:
        claims["cognito:groups"] = groups
    response: dict[str, Any] = api.handler(users_event(params, claims=claims), FakeLambdaContext())
    return response


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None
