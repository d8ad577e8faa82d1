"""Who may use the API's privileged routes: the token's group AND the caller's own live row, read
fresh for every decision (so a disable, a deletion, a move or a removal from the group in Cognito
counts from the next request)."""

from __future__ import annotations

from typing import Any

import pytest

from models.table import mirror_table
from models.user import UserSnapshot, now_us
from tests.support.groups import write_groups
from tests.support.helpers import FakeLambdaContext, body, http_event, users_event

CALLER = "0c0c0c0c-0000-4000-8000-000000000001"
TARGET = "0c0c0c0c-0000-4000-8000-000000000002"
TARGET_EMAIL = "target.t@example.org"
TENANT = "custom:tenant"

ADMIN_ROUTES = {
    "by sub": (f"/users/{TARGET}", None),
    "by email": ("/users", {"email": TARGET_EMAIL}),
    "by attribute": ("/users", {"attribute": TENANT, "value": "acme"}),
}


@pytest.fixture(autouse=True)
def _target() -> None:
    mirror(TARGET, "target", TARGET_EMAIL, "acme")


def mirror(sub: str, username: str, email: str, tenant: str, *, enabled: bool = True) -> None:
    attributes = {"email": email, "email_verified": "true", TENANT: tenant}
    mirror_table().put_snapshot(UserSnapshot(sub, username, attributes, "CONFIRMED", enabled, now_us(), "t"))


def caller_row(state: str, tenant: str = "acme") -> None:
    """The caller's own row: live, disabled, deleted (a tombstone) or absent."""
    if state == "absent":
        return
    mirror(CALLER, "caller", "caller.c@example.net", tenant, enabled=state != "disabled")
    if state == "deleted":
        mirror_table().put_tombstone(CALLER, observed_at=now_us(), source="attribute_sync")


def claims(groups: Any = "[admin]", **extra: Any) -> dict[str, Any]:
    return {"sub": CALLER, "username": "caller", "token_use": "access", "cognito:groups": groups, **extra}


def call(route: str, groups: Any = "[admin]", **extra: Any) -> dict[str, Any]:
    from functions import api

    path, params = ADMIN_ROUTES[route]
    token = claims(groups, **extra)
    event = http_event(path, claims=token) if params is None else users_event(params, claims=token)
    response: dict[str, Any] = api.handler(event, FakeLambdaContext())
    return response


def tenant_listing(tenant: str) -> dict[str, Any]:
    from functions import api

    event = users_event({"attribute": TENANT, "value": tenant}, claims=claims("[tenant-admin]"))
    response: dict[str, Any] = api.handler(event, FakeLambdaContext())
    return response


# --- administrators: the own row decides too ------------------------------------------------------


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_a_live_admin_is_served_on_every_admin_route(route: str) -> None:
    # Given an admin whose own user is live and enabled
    caller_row("live")
    # When they use an admin route / Then it is served
    response = call(route)
    assert response["statusCode"] == 200, response
    assert TARGET_EMAIL in response["body"]


@pytest.mark.parametrize("route", ADMIN_ROUTES)
@pytest.mark.parametrize(
    ("state", "message"),
    [("disabled", "User is disabled"), ("deleted", "Forbidden"), ("absent", "Forbidden")],
)
def test_an_admin_whose_own_user_is_disabled_deleted_or_absent_is_403(
    route: str, state: str, message: str
) -> None:
    # Given a token still in the admin group, whose user is disabled, deleted or not mirrored
    caller_row(state)
    # When they use an admin route
    response = call(route)
    # Then 403 with nothing of the directory in the answer
    assert response["statusCode"] == 403
    assert body(response) == {"statusCode": 403, "message": message}
    assert TARGET_EMAIL not in response["body"] and TARGET not in response["body"]


def test_a_just_disabled_admin_is_refused_on_the_next_request_despite_the_cache() -> None:
    # Given an admin served once (their row now in the reader's cache, 30 s TTL)
    caller_row("live")
    assert call("by sub")["statusCode"] == 200
    # When the mirror learns their user is disabled
    caller_row("disabled")
    # Then the very next privileged request is refused, on every route
    for route in ADMIN_ROUTES:
        assert body(call(route)) == {"statusCode": 403, "message": "User is disabled"}


@pytest.mark.parametrize("state", ["live", "deleted"])
def test_the_group_is_checked_first_and_the_own_row_before_the_request(state: str) -> None:
    from functions import api

    # Given a caller with a live or a deleted user
    caller_row(state)
    # When a non-admin asks for a malformed sub, and an admin does
    outsider = api.handler(http_event("/users/a:b", claims=claims("[ops]")), FakeLambdaContext())
    admin = api.handler(http_event("/users/a:b", claims=claims()), FakeLambdaContext())
    # Then the outsider learns nothing (403, not the sub's 400); the admin's own row is checked
    # before their request: a live admin gets the 400, a deleted one the 403
    assert outsider["statusCode"] == 403
    assert admin["statusCode"] == (400 if state == "live" else 403)


# --- tenant administrators ----------------------------------------------------------------------


@pytest.mark.parametrize(("state", "message"), [("deleted", "Forbidden"), ("absent", "Forbidden")])
def test_a_tenant_admin_whose_own_user_is_deleted_or_absent_is_403(state: str, message: str) -> None:
    # Given a tenant admin of acme whose user was deleted, or was never mirrored
    caller_row(state)
    # When they list acme / Then 403, as for an administrator
    response = tenant_listing("acme")
    assert body(response) == {"statusCode": 403, "message": message}


def test_a_tenant_admin_moved_to_another_tenant_lists_the_new_one_on_the_next_request() -> None:
    # Given acme's tenant admin who listed acme (their row now in the reader's cache)
    caller_row("live", tenant="acme")
    assert tenant_listing("acme")["statusCode"] == 200
    # When the mirror learns they moved to globex
    caller_row("live", tenant="globex")
    # Then the next request for acme is refused, and globex is theirs
    assert tenant_listing("acme")["statusCode"] == 403
    assert tenant_listing("globex")["statusCode"] == 200


def test_a_just_disabled_tenant_admin_is_refused_on_the_next_request() -> None:
    # Given acme's tenant admin who listed acme
    caller_row("live")
    assert tenant_listing("acme")["statusCode"] == 200
    # When their user is disabled / Then the next listing is refused
    caller_row("disabled")
    assert body(tenant_listing("acme")) == {"statusCode": 403, "message": "User is disabled"}


# --- membership: the token's group AND the mirrored row's ----------------------------------------


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_an_admin_removed_from_admin_is_refused_on_every_route_with_the_same_token(route: str) -> None:
    # Given an admin served once, their row's groups observed as admin
    caller_row("live")
    write_groups(CALLER, ["admin"], observed_at=now_us())
    assert call(route)["statusCode"] == 200
    # When the mirror observes their removal from admin (still a member of ops)
    write_groups(CALLER, ["ops"])
    # Then the same token is refused at once, learning nothing of the target
    response = call(route, "[admin ops]")
    assert body(response) == {"statusCode": 403, "message": "Forbidden"}
    assert TARGET_EMAIL not in response["body"] and TARGET not in response["body"]


def test_a_user_added_to_admin_after_their_token_was_issued_is_still_refused() -> None:
    # Given a user whose row holds admin, but whose token does not
    caller_row("live")
    write_groups(CALLER, ["admin"])
    # When they use an admin route with that token / Then 403 until a new token carries the group
    for route in ADMIN_ROUTES:
        assert call(route, "[ops]")["statusCode"] == 403


def test_a_tenant_admin_is_served_while_the_row_holds_the_group_and_refused_once_it_does_not() -> None:
    # Given acme's tenant admin whose row holds tenant-admin
    caller_row("live")
    write_groups(CALLER, ["tenant-admin"], observed_at=now_us())
    assert tenant_listing("acme")["statusCode"] == 200
    # When the mirror observes their removal from every group
    write_groups(CALLER, [])
    # Then the next listing is refused
    assert body(tenant_listing("acme")) == {"statusCode": 403, "message": "Forbidden"}


def test_an_admin_removed_from_admin_but_still_tenant_admin_lists_only_their_tenant() -> None:
    # Given a caller whose token holds both groups, and whose row now holds tenant-admin only
    caller_row("live")
    write_groups(CALLER, ["tenant-admin"])
    token = "[admin tenant-admin]"
    # When they look a user up by e-mail, and list their tenant
    by_email = call("by email", token)
    by_tenant = call("by attribute", token)
    # Then the admin's query is refused, the tenant admin's served
    assert (by_email["statusCode"], by_tenant["statusCode"]) == (403, 200)
    assert call("by sub", token)["statusCode"] == 403
