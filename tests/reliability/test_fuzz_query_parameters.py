"""Every query parameter of every route, fuzzed: GET /me, GET /users/{sub} and GET /users answer a
client's query string (huge, unicode, control characters, repeated names, numbers past Python's
int-conversion limit) with 200 or a 4xx JSON error, never a 5xx, and always `Cache-Control: no-store`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.support.helpers import FakeLambdaContext, http_event, users_event
from tests.support.strategies import hostile_text
from tests.support.users import mirror_user

TENANT = "custom:tenant"
CALLER = str(uuid.UUID(int=0xC0))
KNOWN = str(uuid.UUID(int=0xC1))
PARAMETERS = ["email", "attribute", "value", "group", "limit", "cursor", "unverified", "sub", "page"]

# Past Python's 4,300-digit int-conversion limit, and other numbers a parser may trip on.
numbers = st.one_of(
    st.integers(4_301, 20_000).map(lambda n: "9" * n),
    st.integers(1, 5_000).map(lambda n: "0" * n + "1"),
    st.sampled_from(
        ["1", "100", "101", "0", "-0", "+5", " 5", "5 ", "1e3", "0x10", "\u0663", "\uff15", "1_0", "\u00b2"]
    ),
)
control = st.text(alphabet=st.characters(max_codepoint=0x9F, categories=["Cc"]), min_size=1, max_size=8)
values = st.one_of(
    hostile_text,
    numbers,
    control,
    st.sampled_from(["acme", "acme\u2003", "\u212aate@example.com", TENANT, "email", "true", "false", ""]),
)
names = st.one_of(st.sampled_from(PARAMETERS), hostile_text)
groups = st.sampled_from(["[admin]", "[admin]", "[tenant-admin]", "[]", None])


BASES = [{}, {"attribute": TENANT, "value": "acme"}, {"email": "known.k@example.net"}, {"group": "admin"}]


@st.composite
def query_strings(draw: Any) -> list[tuple[str, str]]:
    """A valid query (or none) with some parameters fuzzed (numbers likelier for limit), some names
    repeated, and sometimes unknown names: so that every parameter's parser is reached."""
    pairs = dict(draw(st.sampled_from(BASES)))
    for name in draw(st.sets(st.sampled_from(PARAMETERS), max_size=2)):
        pairs[name] = draw(st.one_of(numbers, values) if name == "limit" else values)
    listed = list(pairs.items())
    if draw(st.integers(0, 3)) == 0:
        listed += draw(st.lists(st.tuples(st.sampled_from(PARAMETERS), values), min_size=1, max_size=2))
    if draw(st.integers(0, 3)) == 0:
        listed += draw(st.lists(st.tuples(names, values), min_size=1, max_size=2))
    return draw(st.permutations(listed))


def caller(group: str | None) -> dict[str, Any]:
    claims = {"sub": CALLER, "username": "caller", "token_use": "access", "client_id": "c"}
    if group is not None:
        claims["cognito:groups"] = group
    return claims


def seed() -> None:
    mirror_user(CALLER, "caller", {"email": "caller.c@example.net", TENANT: "acme", "email_verified": "true"})
    mirror_user(KNOWN, "known", {"email": "known.k@example.net", TENANT: "acme", "email_verified": "true"})


def with_query(event_: dict[str, Any], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The event API Gateway builds for this query string: a repeated name's values joined by commas."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    event_["queryStringParameters"] = joined or None
    event_["rawQueryString"] = "&".join(f"{name}={value}" for name, value in pairs)
    return event_


def assert_client_answer(response: dict[str, Any]) -> None:
    status = response["statusCode"]
    event(f"status={status}")
    assert 200 <= status < 500, status
    assert response["headers"]["Cache-Control"] == "no-store"
    payload = json.loads(response["body"])
    assert isinstance(payload, dict)
    if status >= 400:
        assert payload["statusCode"] == status and isinstance(payload["message"], str)
        assert "Traceback" not in response["body"]


def call(event_: dict[str, Any]) -> dict[str, Any]:
    from functions.api import handler

    response: dict[str, Any] = handler(event_, FakeLambdaContext())
    return response


@settings(max_examples=40)
@given(pairs=query_strings(), group=groups)
def test_no_query_string_on_get_users_gets_a_5xx(pairs: list[tuple[str, str]], group: str | None) -> None:
    # Given a mirror with two users of acme, and a caller of either group or none
    seed()
    # When GET /users arrives with a fuzzed query string
    response = call(with_query(users_event(None, claims=caller(group)), pairs))
    # Then 200 or a 4xx JSON error, never cached
    assert_client_answer(response)


@settings(max_examples=25)
@given(pairs=query_strings(), group=groups, path=st.sampled_from(["/me", "/users/{sub}"]))
def test_no_query_string_on_me_or_users_by_sub_gets_a_5xx(
    pairs: list[tuple[str, str]], group: str | None, path: str
) -> None:
    # Given a mirror with two users
    seed()
    # When GET /me or GET /users/{sub} arrives with a fuzzed query string
    concrete = path.replace("{sub}", KNOWN)
    event_ = http_event(concrete, claims=caller(group))
    event_["routeKey"] = event_["requestContext"]["routeKey"] = f"GET {path}"
    if path != "/me":
        event_["pathParameters"] = {"sub": KNOWN}
    response = call(with_query(event_, pairs))
    # Then 200 or a 4xx JSON error, never cached
    assert_client_answer(response)


@pytest.mark.parametrize("name", PARAMETERS)
@settings(max_examples=15)
@given(
    value=st.one_of(numbers, values),
    base=st.sampled_from(BASES[1:]),
    group=st.sampled_from(["[admin]", "[tenant-admin]"]),
)
def test_each_parameter_of_a_valid_query_fuzzed_alone_never_gets_a_5xx(
    name: str, value: str, base: dict[str, str], group: str | None
) -> None:
    # Given a mirror with two users of acme
    seed()
    # When a valid GET /users query arrives with one parameter set to a fuzzed value
    response = call(users_event({**base, name: value}, claims=caller(group)))
    # Then 200 or a 4xx JSON error, never cached
    assert_client_answer(response)


def test_a_limit_past_the_int_conversion_limit_is_a_400() -> None:
    # Given an admin
    seed()
    # When they ask for a limit of 5,000 digits
    response = call(
        users_event({"attribute": TENANT, "value": "acme", "limit": "9" * 5_000}, claims=caller("[admin]"))
    )
    # Then 400 naming the bounds, as JSON, never cached
    assert response["statusCode"] == 400
    assert "limit must be a whole number in 1..100" in json.loads(response["body"])["message"]
    assert response["headers"]["Cache-Control"] == "no-store"
