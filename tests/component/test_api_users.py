"""GET /users through functions.api.handler: the directory for administrators (any indexed
attribute) and tenant administrators (their own tenant only), with clear 400s and signed cursors."""

from __future__ import annotations

from typing import Any

import pytest

from models.user import UserSnapshot
from tests.support.helpers import body, get_users

ADMIN = "0a0a0a0a-0000-4000-8000-000000000001"
ACME_ADMIN = "0a0a0a0a-0000-4000-8000-000000000002"
GLOBEX_USER = "0a0a0a0a-0000-4000-8000-000000000003"
TENANT = "custom:tenant"


def call(params: dict[str, str] | None, sub: str = ADMIN, groups: Any = "[admin]") -> dict[str, Any]:
    return get_users(params, sub=sub, groups=groups)


def store(sub: str, tenant: str | None = None, email: str | None = None) -> None:
    from models.table import mirror_table

    attributes = {"email": email or f"{sub}@example.com", "email_verified": "true"}
    if tenant is not None:
        attributes[TENANT] = tenant
    mirror_table().put_snapshot(
        UserSnapshot(sub, f"user-{sub}", attributes, "CONFIRMED", True, 1_764_000_000_000_000, "test")
    )


def tenant(name: str, count: int) -> list[str]:
    subs = [f"{name}-{i:04d}" for i in range(count)]
    for sub in subs:
        store(sub, name)
    return sorted(subs)


def list_all(params: dict[str, str], **caller: Any) -> tuple[list[str], int]:
    """Every sub of a listing, following cursors; and the number of pages."""
    subs: list[str] = []
    pages = 0
    cursor = None
    while True:
        answer = call({**params, **({"cursor": cursor} if cursor else {})}, **caller)
        assert answer["statusCode"] == 200, answer
        pages += 1
        subs += [user["sub"] for user in body(answer)["users"]]
        cursor = body(answer)["cursor"]
        if cursor is None:
            return subs, pages


@pytest.fixture(autouse=True)
def _live_admin(aws: None) -> None:
    """The administrator's own mirrored user, live and enabled: a privilege needs it."""
    store(ADMIN)


@pytest.fixture
def acme_admin() -> None:
    store(ACME_ADMIN, "acme")


# --- administrators --------------------------------------------------------------------------------


def test_an_admin_finds_a_user_by_email_in_any_case_in_the_me_shape() -> None:
    # Given a user with an e-mail address
    store(GLOBEX_USER, "globex", email="Jane.Doe@Example.com")
    # When an admin looks the address up in another case
    answer = call({"email": "JANE.DOE@example.COM"})
    # Then the one user comes back in the GET /me shape, and no cursor
    assert answer["statusCode"] == 200
    found = body(answer)
    assert found["cursor"] is None
    assert [user["sub"] for user in found["users"]] == [GLOBEX_USER]
    fields = {"sub", "username", "attributes", "status", "enabled", "updated_at", "groups"}
    assert set(found["users"][0]) == fields
    # The directory's indexes do not project groups: a listing does not know them
    assert found["users"][0]["groups"] is None
    assert found["users"][0]["attributes"]["email"] == "Jane.Doe@Example.com"


def test_an_unknown_email_is_an_empty_list_not_a_404() -> None:
    # Given no such user / When an admin looks it up / Then 200 with no users
    answer = call({"email": "nobody@example.com"})
    assert answer["statusCode"] == 200
    assert body(answer) == {"users": [], "cursor": None}


def test_an_admin_lists_a_tenant_page_by_page_with_cursors() -> None:
    # Given 23 users of acme and some of globex
    acme = tenant("acme", 23)
    tenant("globex", 5)
    # When an admin lists acme 5 at a time
    subs, pages = list_all({"attribute": TENANT, "value": "acme", "limit": "5"})
    # Then every acme user comes exactly once, and no other
    assert sorted(subs) == acme and len(subs) == len(set(subs))
    assert pages >= 5


def test_tombstones_are_never_listed() -> None:
    from models.table import mirror_table

    # Given three users of acme, one of them deleted
    subs = tenant("acme", 3)
    mirror_table().put_tombstone(subs[1], observed_at=1_864_000_000_000_000, source="test")
    # When an admin lists acme and looks the deleted one up by e-mail
    listed, _ = list_all({"attribute": TENANT, "value": "acme"})
    by_email = body(call({"email": f"{subs[1]}@example.com"}))
    # Then the deleted user is in neither answer
    assert sorted(listed) == [subs[0], subs[2]]
    assert by_email["users"] == []


def test_the_default_page_is_50_and_the_limit_bounds_are_1_and_100() -> None:
    # Given 120 users of acme
    tenant("acme", 120)
    # When an admin lists with no limit, with 1 and with 100
    default = body(call({"attribute": TENANT, "value": "acme"}))
    one = body(call({"attribute": TENANT, "value": "acme", "limit": "1"}))
    hundred = body(call({"attribute": TENANT, "value": "acme", "limit": "100"}))
    # Then pages hold at most 50, 1 and 100 users, each with a cursor
    assert 0 < len(default["users"]) <= 50 and default["cursor"]
    assert len(one["users"]) <= 1 and one["cursor"]
    assert 50 < len(hundred["users"]) <= 100 and hundred["cursor"]


# --- bad input: 400 naming what is allowed ----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "names"),
    [
        (None, "exactly one of email or attribute"),
        ({}, "exactly one of email or attribute"),
        (
            {"email": "a@example.com", "attribute": TENANT, "value": "acme"},
            "exactly one of email or attribute",
        ),
        ({"attribute": "custom:role", "value": "x"}, "indexed attribute: email, custom:tenant"),
        ({"attribute": "name", "value": "x"}, "indexed attribute: email, custom:tenant"),
        ({"attribute": TENANT}, "value must not be empty"),
        ({"attribute": TENANT, "value": "  "}, "value must not be empty"),
        ({"email": ""}, "value must not be empty"),
        ({"email": "a@example.com", "value": "x"}, "value goes with attribute"),
        ({"attribute": TENANT, "value": "acme", "limit": "0"}, "limit must be a whole number in 1..100"),
        ({"attribute": TENANT, "value": "acme", "limit": "101"}, "limit must be a whole number in 1..100"),
        ({"attribute": TENANT, "value": "acme", "limit": "ten"}, "limit must be a whole number in 1..100"),
        ({"attribute": TENANT, "value": "acme", "limit": "-1"}, "limit must be a whole number in 1..100"),
        ({"attribute": TENANT, "value": "acme", "limit": "٣"}, "limit must be a whole number in 1..100"),
        ({"attribute": TENANT, "value": "acme", "cursor": "garbage"}, "malformed cursor"),
        ({"attribute": TENANT, "value": "acme", "cursor": "a.b.c!"}, "malformed cursor"),
        ({"attribute": TENANT, "value": "acme", "cursor": "e30.AAAA"}, "invalid for this query"),
        ({"attribute": TENANT, "value": "é" * 1100}, "too long to be indexed"),
        ({"attribute": TENANT, "value": "acme", "page": "2"}, "(allowed: email, attribute, value, group"),
    ],
)
def test_bad_queries_are_400_with_a_message_naming_what_is_allowed(
    params: dict[str, str] | None, names: str
) -> None:
    # Given an admin / When they send a bad query
    answer = call(params)
    # Then 400, a JSON message that says what is wrong and what is allowed
    assert answer["statusCode"] == 400, answer
    assert names in body(answer)["message"]


def test_a_tampered_cursor_is_400() -> None:
    # Given a real cursor of an acme listing
    tenant("acme", 8)
    cursor = body(call({"attribute": TENANT, "value": "acme", "limit": "2"}))["cursor"]
    payload, mac = cursor.split(".")
    # When one character of its payload or its mac is changed
    for forged in (f"{payload[:-2]}A{payload[-1]}.{mac}", f"{payload}.{mac[:-2]}A{mac[-1]}"):
        if forged == cursor:
            continue
        answer = call({"attribute": TENANT, "value": "acme", "limit": "2", "cursor": forged})
        # Then it is refused with 400
        assert answer["statusCode"] == 400
        assert "cursor" in body(answer)["message"]


def test_a_cursor_replayed_on_another_query_is_400() -> None:
    # Given a cursor of acme's listing
    tenant("acme", 8)
    tenant("globex", 8)
    cursor = body(call({"attribute": TENANT, "value": "acme", "limit": "2"}))["cursor"]
    # When it is sent with globex's query, or the e-mail query
    for params in ({"attribute": TENANT, "value": "globex"}, {"email": "acme-0000@example.com"}):
        answer = call({**params, "cursor": cursor})
        # Then 400: it belongs to another query
        assert answer["statusCode"] == 400
        assert "invalid for this query" in body(answer)["message"]


def test_a_cursor_follows_the_normalised_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a cursor of an e-mail query (e-mail is case-blind)
    for i in range(3):
        store(f"shared-{i}", email="Shared@Example.com")
    cursor = body(call({"email": "shared@example.com", "limit": "1"}))["cursor"]
    # When the next page is asked with the address in another case
    answer = call({"email": "SHARED@example.com", "limit": "1", "cursor": cursor})
    # Then it is the same query: 200
    assert answer["statusCode"] == 200


def test_a_configured_cursor_key_signs_cursors_that_survive_a_cold_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.support.fixtures import reset_process_state

    # Given a configured cursor key and a cursor issued by one container
    monkeypatch.setenv("MIRROR_CURSOR_KEY", "k" * 32)
    reset_process_state()
    acme = tenant("acme", 6)
    first = body(call({"attribute": TENANT, "value": "acme", "limit": "3"}))
    # When another container (a cold start) serves the next page
    reset_process_state()
    second = call({"attribute": TENANT, "value": "acme", "limit": "3", "cursor": first["cursor"]})
    # Then it continues the listing
    assert second["statusCode"] == 200
    subs = [user["sub"] for user in first["users"] + body(second)["users"]]
    assert sorted(subs) == acme


def test_a_short_cursor_key_is_a_configuration_error() -> None:
    import os

    from models.settings import ConfigurationError, load_settings

    # Given a key under 32 characters / When settings load / Then a clear ConfigurationError
    os.environ["MIRROR_CURSOR_KEY"] = "short"
    try:
        with pytest.raises(ConfigurationError, match="MIRROR_CURSOR_KEY must be at least 32"):
            load_settings()
    finally:
        del os.environ["MIRROR_CURSOR_KEY"]


# --- who may list --------------------------------------------------------------------------------


@pytest.mark.parametrize("groups", [None, "[]", "[ops]", "[admins]", "[tenant-administrator]"])
def test_callers_in_neither_group_are_403_whatever_they_ask(groups: Any) -> None:
    # Given a caller in neither group / When they query, even badly / Then 403
    for params in ({"email": "a@example.com"}, {"attribute": TENANT, "value": "acme"}, {"limit": "0"}):
        answer = call(params, sub=GLOBEX_USER, groups=groups)
        assert answer["statusCode"] == 403
        assert body(answer)["message"] == "Forbidden"


def test_a_tenant_admin_lists_their_own_tenant(acme_admin: None) -> None:
    # Given acme's users and a tenant admin whose own row says acme
    acme = tenant("acme", 7)
    tenant("globex", 4)
    # When they list acme page by page
    subs, _ = list_all(
        {"attribute": TENANT, "value": "acme", "limit": "3"}, sub=ACME_ADMIN, groups="[tenant-admin]"
    )
    # Then they get acme's users (themselves included), nobody else
    assert sorted(subs) == sorted([*acme, ACME_ADMIN])


@pytest.mark.parametrize(
    "params",
    [
        {"attribute": TENANT, "value": "globex"},
        {"attribute": TENANT, "value": "ACME"},
        {"email": "globex-0000@example.com"},
        {"attribute": "email", "value": "acme-0000@example.com"},
    ],
)
def test_a_tenant_admin_is_403_outside_their_own_tenant(acme_admin: None, params: dict[str, str]) -> None:
    # Given a tenant admin of acme
    tenant("globex", 2)
    # When they ask for another tenant, or any e-mail lookup
    answer = call(params, sub=ACME_ADMIN, groups="[tenant-admin]")
    # Then 403
    assert answer["statusCode"] == 403


def test_a_tenant_admin_cannot_reach_another_tenant_with_acme_cursor(acme_admin: None) -> None:
    # Given a cursor of acme issued to acme's tenant admin
    tenant("acme", 6)
    tenant("globex", 6)
    cursor = body(
        call({"attribute": TENANT, "value": "acme", "limit": "2"}, sub=ACME_ADMIN, groups="[tenant-admin]")
    )["cursor"]
    # When they send it with globex's query
    answer = call(
        {"attribute": TENANT, "value": "globex", "cursor": cursor}, sub=ACME_ADMIN, groups="[tenant-admin]"
    )
    # Then 403: the query is judged before the cursor
    assert answer["statusCode"] == 403


def test_a_tenant_admin_without_a_tenant_on_their_row_is_403() -> None:
    # Given a tenant admin whose own row has no tenant
    store(ACME_ADMIN)
    # When they list any tenant / Then 403
    assert (
        call({"attribute": TENANT, "value": "acme"}, sub=ACME_ADMIN, groups="[tenant-admin]")["statusCode"]
        == 403
    )


def test_a_tenant_admin_group_is_configurable(monkeypatch: pytest.MonkeyPatch, acme_admin: None) -> None:
    from tests.support.fixtures import reset_process_state

    # Given MIRROR_TENANT_ADMIN_GROUP=acme-owners
    monkeypatch.setenv("MIRROR_TENANT_ADMIN_GROUP", "acme-owners")
    reset_process_state()
    params = {"attribute": TENANT, "value": "acme"}
    # When members of that group and of the default group list acme / Then only the former may
    assert call(params, sub=ACME_ADMIN, groups="[acme-owners]")["statusCode"] == 200
    assert call(params, sub=ACME_ADMIN, groups="[tenant-admin]")["statusCode"] == 403


def test_a_disabled_tenant_admin_lists_nothing(acme_admin: None) -> None:
    from models.table import mirror_table

    # Given acme's tenant admin, disabled since
    mirror_table().put_snapshot(
        UserSnapshot(ACME_ADMIN, "a", {TENANT: "acme"}, "CONFIRMED", False, 1_864_000_000_000_000, "test")
    )
    # When they list acme / Then 403
    answer = call({"attribute": TENANT, "value": "acme"}, sub=ACME_ADMIN, groups="[tenant-admin]")
    assert answer["statusCode"] == 403


@pytest.mark.parametrize("outage", ["table", "cognito"])
def test_a_dependency_outage_below_the_api_is_a_counted_503_asking_to_retry(
    outage: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.common import user_directory
    from functions.common.errors import CognitoUnavailableError
    from models.errors import TableUnavailableError
    from tests.support.metrics import emitted

    error = TableUnavailableError if outage == "table" else CognitoUnavailableError

    def down(*_: Any) -> Any:
        raise error("mirror query failed: ProvisionedThroughputExceededException")

    # Given the data layer raising its plain "dependency down" error
    monkeypatch.setattr(user_directory, "list_users", down)
    # When an administrator lists users
    answer = call({"attribute": "email", "value": "a@example.com"})
    # Then the API answers the library's 503: JSON, Retry-After, no-store, counted
    assert answer["statusCode"] == 503
    assert body(answer) == {"statusCode": 503, "message": "Service temporarily unavailable"}
    assert answer["headers"]["Retry-After"] == "1"
    assert answer["headers"]["Cache-Control"] == "no-store"
    assert emitted(capsys.readouterr().out)["ApiError503"] == 1
