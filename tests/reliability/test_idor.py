"""A caller never reads another user's profile unless in the admin group (IDOR attempts).

The identity comes from the authorizer's verified claims only: paths, query strings, headers,
look-alike groups and claims an attacker can shape do not change whose profile comes back.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.support.helpers import FakeLambdaContext, body, http_event
from tests.support.users import mirror_user

ATTACKER = str(uuid.UUID(int=0xA))
VICTIM = str(uuid.UUID(int=0xB))
VICTIM_EMAIL = "victim.v@example.org"
ATTACKER_EMAIL = "attacker.a@example.net"


def mirror(sub: str, username: str, email: str) -> None:
    mirror_user(sub, username, {"email": email, "family_name": "Worthington-Smythe"})


@pytest.fixture(autouse=True)
def two_users() -> None:
    mirror(ATTACKER, "attacker", ATTACKER_EMAIL)
    mirror(VICTIM, "victim", VICTIM_EMAIL)


def attacker_claims(**extra: Any) -> dict[str, Any]:
    return {"sub": ATTACKER, "username": "attacker", "token_use": "access", "client_id": "c", **extra}


def call(event: dict[str, Any]) -> dict[str, Any]:
    from functions.api import handler

    response: dict[str, Any] = handler(event, FakeLambdaContext())
    assert VICTIM_EMAIL not in json.dumps(response)
    return response


HEADER_TRICKS = [
    {"x-user-sub": VICTIM},
    {"x-amzn-oidc-identity": VICTIM},
    {"x-amzn-oidc-data": VICTIM},
    {"x-forwarded-user": "victim"},
    {"sub": VICTIM},
    {"cognito:groups": "admin"},
    {"x-cognito-groups": "[admin]"},
]


@pytest.mark.parametrize("headers", HEADER_TRICKS, ids=lambda h: next(iter(h)))
def test_headers_never_change_whose_profile_me_returns(headers: dict[str, str]) -> None:
    # Given the attacker's request to /me carrying a header that names the victim
    event = http_event("/me", claims=attacker_claims(), headers=headers)
    # When it is served, Then the attacker gets their own profile
    response = call(event)
    assert response["statusCode"] == 200
    assert body(response)["sub"] == ATTACKER


@pytest.mark.parametrize(
    "query", [f"sub={VICTIM}", f"username=victim&sub={VICTIM}", f"user={VICTIM}", f"sub[]={VICTIM}"]
)
def test_query_strings_and_path_parameters_never_change_whose_profile_me_returns(query: str) -> None:
    # Given /me with a query string and a path parameter that name the victim
    event = http_event("/me", claims=attacker_claims())
    event["rawQueryString"] = query
    event["queryStringParameters"] = dict(part.split("=", 1) for part in query.split("&"))
    event["pathParameters"] = {"sub": VICTIM}
    # When it is served, Then the attacker gets their own profile
    response = call(event)
    assert response["statusCode"] == 200
    assert body(response)["sub"] == ATTACKER


GROUP_TRICKS: list[Any] = [
    None,
    "",
    "[]",
    "[ops]",
    ["ops", "users"],
    "admins",
    "administrators",
    "[administrators]",
    "[admins]",
    "Admin",
    "ADMIN",
    "[ops admin-readonly]",
    '["adminx"]',
    "[admin,]x",
    # One group whose name only contains "admin", as API Gateway flattens it (names keep their
    # commas, quotes and brackets): never the admin group.
    "[ops,admin]",
    "[admin,ops]",
    '["admin"]',
    "['admin']",
    '[admin"]',
    '["ops","admin"]',
    "admin",
    ["ops,admin"],
    ['"admin"'],
    ["Admin"],
    {"admin": True},
    42,
]


@pytest.mark.parametrize("groups", GROUP_TRICKS, ids=repr)
def test_users_route_refuses_every_caller_outside_the_admin_group(groups: Any) -> None:
    # Given the attacker's claims with a look-alike group claim (or none)
    extra = {} if groups is None else {"cognito:groups": groups}
    event = http_event(f"/users/{VICTIM}", claims=attacker_claims(**extra))
    # When the attacker asks for the victim by sub
    response = call(event)
    # Then it is a JSON 403
    assert response["statusCode"] == 403
    assert body(response) == {"statusCode": 403, "message": "Forbidden"}


@pytest.mark.parametrize(
    "claim",
    [
        {"custom:groups": "admin"},
        {"groups": ["admin"]},
        {"scope": "admin aws.cognito.signin.user.admin"},
        {"cognito:roles": "admin"},
        {"custom:role": "admin"},
        {"username": "admin"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_admin_words_in_other_claims_grant_nothing(claim: dict[str, Any]) -> None:
    # Given "admin" in a claim that is not cognito:groups
    event = http_event(f"/users/{VICTIM}", claims=attacker_claims(**claim))
    # When the attacker asks for the victim, Then it is 403
    response = call(event)
    assert response["statusCode"] == 403


@pytest.mark.parametrize(
    "path", [f"/me/../users/{VICTIM}", f"/users/{VICTIM}/", f"/users/{VICTIM}%00", "/users/*"]
)
def test_path_tricks_are_refused(path: str) -> None:
    # Given a non-admin attacker and a path built to reach the victim
    event = http_event(path, claims=attacker_claims())
    # When it is served, Then it is never a 200
    response = call(event)
    assert response["statusCode"] in (403, 404)


def test_an_admin_reads_another_users_profile() -> None:
    # Given a member of the admin group (API Gateway's flattened string form)
    event = http_event(f"/users/{VICTIM}", claims=attacker_claims(**{"cognito:groups": "[ops admin]"}))
    # When they ask for the victim
    from functions.api import handler

    response = handler(event, FakeLambdaContext())
    # Then they get it: the control that proves the 403s above are decisions, not breakage
    assert response["statusCode"] == 200
    assert body(response)["attributes"]["email"] == VICTIM_EMAIL


def test_an_attacker_naming_the_victims_username_on_a_mirror_miss_gets_nothing_of_theirs(
    cognito: Any, ddb: Any
) -> None:
    # Given both users in Cognito, the attacker not yet mirrored, and claims whose username names
    # the victim (a verified token cannot carry them; the read-through must not trust them anyway)
    attacker = cognito.create_user("attacker2", email=ATTACKER_EMAIL)
    cognito.create_user("victim2", email=VICTIM_EMAIL)
    event = http_event("/me", claims={"sub": attacker, "username": "victim2", "token_use": "access"})
    # When the attacker reads /me
    response = call(event)
    # Then the username resolves to another sub: 404, never the victim's profile (call() checks)
    assert response["statusCode"] == 404
    assert body(response) == {"statusCode": 404, "message": "User not found"}


def test_without_an_authorizer_or_verification_nobody_is_identified() -> None:
    # Given no authorizer context, no JWT settings, and identity-looking data everywhere else
    event = http_event("/me", claims=None, headers={"x-user-sub": VICTIM})
    event["requestContext"]["authorizer"] = {"lambda": {"sub": VICTIM}, "claims": {"sub": VICTIM}}
    # When it is served, Then it is a JSON 401
    response = call(event)
    assert response["statusCode"] == 401
    assert body(response) == {"statusCode": 401, "message": "Unauthorized"}
