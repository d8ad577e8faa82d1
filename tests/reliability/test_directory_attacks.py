"""GET /users under attack: a tenant administrator never lists another tenant, a cursor never
changes the query, and no fuzzed query gets a 5xx or a non-JSON error.

A tenant administrator's tenant comes from their own mirrored row only: claims, query parameters,
headers and cursors an attacker shapes do not change it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.support.helpers import FakeLambdaContext, body, users_event
from tests.support.strategies import hostile_text
from tests.support.users import mirror_user

TENANT = "custom:tenant"
ATTACKER = str(uuid.UUID(int=0xA))  # tenant admin of acme
ADMIN = str(uuid.UUID(int=0xAD))
GLOBEX = [str(uuid.UUID(int=0xB00 + i)) for i in range(5)]
GLOBEX_EMAIL = "victim.v@example.org"


@pytest.fixture(autouse=True)
def two_tenants() -> None:
    mirror_user(ATTACKER, "attacker", {"email": "attacker.a@example.net", TENANT: "acme"})
    mirror_user(ADMIN, "admin", {"email": "admin.a@example.net"})
    for i, sub in enumerate(GLOBEX):
        mirror_user(
            sub, f"globex-{i}", {"email": GLOBEX_EMAIL if i == 0 else f"g{i}@example.org", TENANT: "globex"}
        )


def claims(sub: str = ATTACKER, groups: Any = "[tenant-admin]", **extra: Any) -> dict[str, Any]:
    found = {"sub": sub, "username": "attacker", "token_use": "access", "client_id": "c", **extra}
    if groups is not None:
        found["cognito:groups"] = groups
    return found


def call(event: dict[str, Any], *, may_see_globex: bool = False) -> dict[str, Any]:
    from functions.api import handler

    response: dict[str, Any] = handler(event, FakeLambdaContext())
    if not may_see_globex:
        assert GLOBEX_EMAIL not in json.dumps(response)
        assert not any(sub in json.dumps(response) for sub in GLOBEX)
    return response


GLOBEX_QUERIES = [
    {"attribute": TENANT, "value": "globex"},
    {"attribute": TENANT, "value": " globex "},
    {"attribute": TENANT, "value": "acme,globex"},  # how API Gateway joins a repeated parameter
    {"attribute": TENANT, "value": "globex#00"},
    {"attribute": TENANT, "value": "acme#globex"},
    {"email": GLOBEX_EMAIL},
    {"attribute": "email", "value": GLOBEX_EMAIL},
]


@pytest.mark.parametrize("params", GLOBEX_QUERIES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_a_tenant_admin_asking_for_another_tenant_is_403(params: dict[str, str]) -> None:
    # Given acme's tenant admin / When they ask for globex in any form / Then 403, nothing of globex
    assert call(users_event(params, claims=claims()))["statusCode"] == 403


@pytest.mark.parametrize(
    "extra",
    [{TENANT: "globex"}, {"tenant": "globex"}, {"custom:tenant": "globex", "cognito:groups": "[admin]"}],
    ids=["tenant-claim", "plain-claim", "claims-and-groups"],
)
def test_claims_naming_another_tenant_change_nothing(extra: dict[str, Any]) -> None:
    # Given acme's tenant admin whose token carries claims that name globex (or admin)
    shaped = claims(**extra)
    if "cognito:groups" in extra:
        shaped["cognito:groups"] = "[tenant-admin]"
    # When they list globex / Then 403: their tenant is their row's
    answer = call(users_event({"attribute": TENANT, "value": "globex"}, claims=shaped))
    assert answer["statusCode"] == 403


@pytest.mark.parametrize(
    "headers",
    [{"x-tenant": "globex"}, {"x-amzn-oidc-data": "globex"}, {"custom-tenant": "globex"}],
    ids=lambda h: next(iter(h)),
)
def test_headers_naming_another_tenant_change_nothing(headers: dict[str, str]) -> None:
    event = users_event({"attribute": TENANT, "value": "globex"}, claims=claims())
    event["headers"].update(headers)
    assert call(event)["statusCode"] == 403


@pytest.mark.parametrize("groups", ["[tenant-admins]", "[xtenant-admin]", "tenant-admin-x", "[Tenant-Admin]"])
def test_look_alike_groups_are_403(groups: str) -> None:
    answer = call(users_event({"attribute": TENANT, "value": "acme"}, claims=claims(groups=groups)))
    assert answer["statusCode"] == 403


def test_an_admins_cursor_of_another_tenant_gets_a_tenant_admin_nothing() -> None:
    # Given a cursor of globex's listing, issued to an admin
    admin = claims(sub=ADMIN, groups="[admin]")
    cursor = body(
        call(
            users_event({"attribute": TENANT, "value": "globex", "limit": "2"}, claims=admin),
            may_see_globex=True,
        )
    )["cursor"]
    assert cursor
    # When acme's tenant admin sends it with globex's query, or with their own
    foreign = call(users_event({"attribute": TENANT, "value": "globex", "cursor": cursor}, claims=claims()))
    own = call(users_event({"attribute": TENANT, "value": "acme", "cursor": cursor}, claims=claims()))
    # Then 403 for globex, 400 for acme (the cursor is bound to globex's query)
    assert foreign["statusCode"] == 403
    assert own["statusCode"] == 400


@given(position=st.integers(0, 10_000), replacement=st.sampled_from("AZaz09-_.="))
def test_a_cursor_altered_anywhere_is_refused(position: int, replacement: str) -> None:
    # Given an admin's real cursor of globex's listing
    admin = claims(sub=ADMIN, groups="[admin]")
    params = {"attribute": TENANT, "value": "globex", "limit": "1"}
    cursor = body(call(users_event(params, claims=admin), may_see_globex=True))["cursor"]
    at = position % len(cursor)
    forged = cursor[:at] + replacement + cursor[at + 1 :]
    # When one character is changed / Then 400 (unless the change was no change)
    answer = call(users_event({**params, "cursor": forged}, claims=admin), may_see_globex=True)
    if forged != cursor:
        event(f"status={answer['statusCode']}")
        assert answer["statusCode"] == 400, forged
        assert "cursor" in body(answer)["message"]


names = st.one_of(st.sampled_from(["email", "attribute", "value", "limit", "cursor"]), hostile_text)
values = st.one_of(
    st.sampled_from(["acme", "globex", TENANT, "email", "custom:role", "0", "100", "101", "-1", "1e3", " 5"]),
    hostile_text,
)


@given(
    params=st.dictionaries(names, values, max_size=5),
    groups=st.sampled_from(["[admin]", "[tenant-admin]", "[]", None]),
)
def test_no_fuzzed_query_gets_a_5xx_and_every_error_is_json(params: dict[str, str], groups: Any) -> None:
    # Given a caller of either group or none / When a fuzzed query arrives
    response = call(users_event(params, claims=claims(groups=groups)), may_see_globex=groups == "[admin]")
    # Then never a 5xx; errors are JSON with a message; a tenant admin sees acme only
    status = response["statusCode"]
    event(f"status={status}")
    assert status in (200, 400, 403), status
    payload = json.loads(response["body"])
    if status != 200:
        assert isinstance(payload.get("message"), str) and "Traceback" not in response["body"]
    elif groups == "[tenant-admin]":
        assert {user["attributes"][TENANT] for user in payload["users"]} <= {"acme"}
