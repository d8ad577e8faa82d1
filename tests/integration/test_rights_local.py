"""The token ∩ mirror rule on the local stack: a cognito-local token still carrying `admin` is
refused once the admin's mirrored row no longer holds it (the row's groups written straight, as
the sync's membership write would), through the authorizer and the api function on
serverless-offline."""

from __future__ import annotations

from collections.abc import Callable

from scripts.scenario import Scenario, token_claims
from scripts.user_pool import ADMIN_GROUP

Unique = Callable[[str], str]


def _admin(scenario: Scenario, unique: Unique) -> tuple[str, str, str]:
    """A new admin (username, access token issued while in admin) and another user's sub."""
    admin = unique("root")
    scenario.admin_create(admin, email=f"{admin}@example.com")
    scenario.make_admin(admin)
    token = scenario.sign_in(admin)
    return admin, token, scenario.sign_up(unique("ada"), email="ada@example.com")


def test_an_admin_removed_from_admin_is_refused_with_the_same_token(
    scenario: Scenario, unique: Unique
) -> None:
    # Given an admin whose token and mirrored row both hold admin, served once
    admin, token, target = _admin(scenario, unique)
    sub = scenario.sub_of(admin)
    assert scenario.write_groups(sub, [ADMIN_GROUP])
    assert scenario.get(f"/users/{target}", token).status_code == 200
    # When they are removed from admin in Cognito and the mirror observes it
    scenario.remove_from_group(admin)
    assert scenario.write_groups(sub, [])
    # Then the same token, which still carries admin, is refused on the next request
    assert ADMIN_GROUP in token_claims(token)["cognito:groups"]
    refused = scenario.get(f"/users/{target}", token)
    assert (refused.status_code, refused.json()) == (403, {"statusCode": 403, "message": "Forbidden"})
    assert scenario.get("/users", token, params={"email": "ada@example.com"}).status_code == 403
    # and GET /me still answers, showing the groups the mirror observed
    me = scenario.get("/me", token)
    assert (me.status_code, me.json()["groups"]) == (200, [])


def test_an_admin_whose_groups_the_mirror_has_not_observed_is_served_by_the_token(
    scenario: Scenario, unique: Unique
) -> None:
    # Given an admin whose row was written by the sign-in trigger alone (groups unknown)
    _, token, target = _admin(scenario, unique)
    # When they read another user / Then the token decides: 200, and their own groups read unknown
    assert scenario.get(f"/users/{target}", token).status_code == 200
    assert scenario.get("/me", token).json()["groups"] is None
