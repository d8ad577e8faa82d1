"""The user directory on the local stack (the demo's step 9): GET /users over HTTP, through the
authorizer, the api function on serverless-offline and DynamoDB Local's indexes."""

from __future__ import annotations

from collections.abc import Callable

import requests

from scripts.scenario import Scenario

Unique = Callable[[str], str]


def subs(response: requests.Response) -> list[str]:
    return sorted(user["sub"] for user in response.json()["users"])


def test_an_admin_finds_a_user_by_email_in_any_case(scenario: Scenario, unique: Unique) -> None:
    # Given a user with an e-mail address, and an admin
    username, admin = unique("ada"), unique("root")
    # (Cognito marks the address verified on confirmation by code; cognito-local does not.)
    sub = scenario.sign_up(username, email=f"{username}@Example.com", email_verified="true")
    scenario.admin_create(admin, email=f"{admin}@example.com")
    scenario.make_admin(admin)
    # When the admin looks the address up in upper case
    response = scenario.get(
        "/users", scenario.sign_in(admin), params={"email": f"{username.upper()}@EXAMPLE.COM"}
    )
    # Then the user comes back in the GET /me shape
    assert response.status_code == 200, response.text
    assert subs(response) == [sub]
    assert response.json()["users"][0]["attributes"]["email"] == f"{username}@Example.com"


def test_a_tenant_admin_lists_their_own_tenant_page_by_page_and_is_refused_another(
    scenario: Scenario, unique: Unique
) -> None:
    # Given a tenant of three users, one of them its tenant admin, and another tenant
    tenant, other = unique("tea-party"), unique("looking-glass")
    hatter = unique("hatter")
    members = [scenario.sign_up(hatter, email=f"{hatter}@example.com", custom__tenant=tenant)]
    members += [scenario.sign_up(unique("guest"), custom__tenant=tenant) for _ in range(2)]
    scenario.sign_up(unique("walrus"), custom__tenant=other)
    scenario.make_tenant_admin(hatter)
    token = scenario.sign_in(hatter)
    # When they list their tenant two at a time, following the cursor
    listed: list[str] = []
    params = {"attribute": "custom:tenant", "value": tenant, "limit": "2"}
    cursor = None
    for _ in range(5):
        response = scenario.get("/users", token, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        listed += subs(response)
        cursor = response.json()["cursor"]
        if cursor is None:
            break
    # Then they get their tenant's three users; another tenant is 403, an altered cursor 400
    assert sorted(listed) == sorted(members)
    refused = scenario.get("/users", token, params={"attribute": "custom:tenant", "value": other})
    assert refused.status_code == 403
    first = scenario.get("/users", token, params=params).json()["cursor"]
    forged = scenario.get(
        "/users",
        token,
        params={**params, "cursor": first[:-2] + ("A" if first[-2] != "A" else "B") + first[-1]},
    )
    assert forged.status_code == 400
