"""Fuzzed HTTP API (v2) requests: never a 5xx for a client's mistake, always a JSON error.

What a client controls is fuzzed: method, path, query string, headers (Authorization included),
cookies, body, and the claims its token carries (types and values; API Gateway sends strings,
serverless-offline native JSON types). The envelope API Gateway builds stays well-formed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from tests.support.helpers import FakeLambdaContext, http_event
from tests.support.strategies import hostile_text, json_values
from tests.support.users import mirror_user

KNOWN_SUB = str(uuid.UUID(int=7))

methods = st.sampled_from(
    ["GET", "GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", "TRACE", "FOO"]
)
paths = st.one_of(
    st.just("/me"),
    st.sampled_from(["/me", "/me/", "/users/", "/users", "//me", "/users/me", "/ME", "/users/%2e%2e"]),
    st.builds(lambda s: f"/users/{s}", hostile_text),
    st.builds(lambda s: f"/users/{s}", st.just(KNOWN_SUB)),
    st.builds(lambda s: f"/{s}", hostile_text),
)
header_names = st.one_of(
    st.sampled_from(
        [
            "authorization",
            "Authorization",
            "x-user-sub",
            "x-amzn-oidc-identity",
            "cookie",
            "content-type",
            "host",
        ]
    ),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20),
)
claim_values = st.one_of(json_values, st.just(KNOWN_SUB), st.just("[admin]"), st.just(["admin"]))
claims = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(
            ["sub", "username", "cognito:username", "cognito:groups", "token_use", "client_id", "scope"]
        )
        | hostile_text,
        claim_values,
        max_size=6,
    ),
    st.fixed_dictionaries(
        {"sub": st.just(KNOWN_SUB), "username": json_values, "cognito:groups": claim_values}
    ),
)


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    path = draw(paths)
    event_ = http_event(path, claims=draw(claims))
    method = draw(methods)
    event_["requestContext"]["http"]["method"] = method
    event_["routeKey"] = event_["requestContext"]["routeKey"] = f"{method} {path}"
    event_["headers"].update(draw(st.dictionaries(header_names, hostile_text, max_size=4)))
    query = draw(st.dictionaries(hostile_text, hostile_text, max_size=3))
    event_["queryStringParameters"] = query or None
    event_["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    event_["cookies"] = draw(st.lists(hostile_text, max_size=2)) or None
    body = draw(st.one_of(st.none(), hostile_text, json_values.map(json.dumps)))
    event_["body"] = body
    event_["isBase64Encoded"] = draw(st.booleans()) if body else False
    return event_


def seed_known_user() -> None:
    mirror_user(KNOWN_SUB, "known", {"email": "jane.doe@example.com", "custom:tenant": "acme"})


@given(request=requests())
def test_no_client_mistake_gets_a_5xx_and_every_error_is_json(request: dict[str, Any]) -> None:
    # Given a mirror holding one user
    seed_known_user()
    from functions.api import handler

    # When a fuzzed request arrives
    response = handler(request, FakeLambdaContext())
    # Then the answer is never a 5xx, and errors are JSON objects with a message
    status = response["statusCode"]
    event(f"status={status}")
    assert 200 <= status < 500, status
    payload = json.loads(response["body"])
    assert isinstance(payload, dict)
    if status >= 400:
        assert isinstance(payload.get("message"), str)
        assert "Traceback" not in response["body"]
    elif "users" in payload:  # GET /users: an admin's directory page
        assert set(payload) == {"users", "cursor"}
    else:
        assert payload["sub"] == KNOWN_SUB
