"""E-mail lookups find verified addresses only (unless asked otherwise), never a Unicode look-alike;
index keys never merge values that the authorization check or a consumer tells apart."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cognito_mirror import MirrorReader
from cognito_mirror.record import index_keys, normalise_value, query_keys
from models.directory import query_users
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.fixtures import TABLE
from tests.support.helpers import body, get_users

TENANT = "custom:tenant"
ADMIN = "0b0b0b0b-0000-4000-8000-000000000001"
TENANT_ADMIN = "0b0b0b0b-0000-4000-8000-000000000002"
KELVIN = "\u212aate@example.com"  # KELVIN SIGN, which .lower(), casefold() and NFKC all turn into "k"


def store(sub: str, **attributes: str) -> None:
    mirror_table().put_snapshot(
        UserSnapshot(sub, f"user-{sub}", attributes, "CONFIRMED", True, 1_764_000_000_000_000, "test")
    )


def call(params: dict[str, str], sub: str = ADMIN, groups: str = "[admin]") -> dict[str, Any]:
    return get_users(params, sub=sub, groups=groups)


def subs(response: dict[str, Any]) -> list[str]:
    assert response["statusCode"] == 200, response
    return sorted(user["sub"] for user in body(response)["users"])


@pytest.fixture(autouse=True)
def _live_admin(aws: None) -> None:
    """The administrator's own mirrored user, live and enabled: a privilege needs it."""
    store(ADMIN)


@pytest.fixture
def kate_and_impostors() -> None:
    store("kate", email="Kate@Example.com", email_verified="true")
    store("claims-kate", email="kate@example.com", email_verified="false")  # set it, never verified
    store("no-flag", email="kate@example.com")
    store("kelvin", email=KELVIN, email_verified="true")


# --- the key format ----------------------------------------------------------------------------------


def test_email_keys_lowercase_ascii_letters_only_so_a_look_alike_keeps_its_own_key() -> None:
    # Given kate's address and one spelled with the Kelvin sign
    # When both are normalised and keyed
    kate, kelvin = normalise_value("email", "Kate@Example.COM"), normalise_value("email", KELVIN)
    # Then only ASCII letters changed case, and the two keys differ
    assert kate == "kate@example.com"
    assert kelvin == KELVIN
    assert query_keys("email", KELVIN) != query_keys("email", "kate@example.com")


@pytest.mark.parametrize("variant", ["acme\u2003", " acme", "acme\t", "\u00a0acme", "acme\n"])
def test_whitespace_variants_of_a_value_never_share_its_key(variant: str) -> None:
    # Given a tenant and a variant with surrounding whitespace
    # When both users' keys are computed
    plain = index_keys("s1", {TENANT: "acme"}, (TENANT,))["dir0"]
    spaced = index_keys("s1", {TENANT: variant}, (TENANT,))["dir0"]
    # Then each has a key of its own, and queries of each read only their own partitions
    assert plain is not None and spaced is not None and plain != spaced
    assert set(query_keys(TENANT, "acme")).isdisjoint(query_keys(TENANT, variant))


# --- tenants that differ by whitespace ----------------------------------------------------------------


def test_a_tenant_admin_of_a_whitespace_variant_cannot_list_the_plain_tenant() -> None:
    # Given users of acme, and a tenant admin whose row says "acme" followed by an em space
    store("acme-1", **{TENANT: "acme"})
    store("acme-2", **{TENANT: "acme"})
    store(TENANT_ADMIN, **{TENANT: "acme\u2003"})
    # When the tenant admin lists acme, and then their own tenant
    plain = call({"attribute": TENANT, "value": "acme"}, sub=TENANT_ADMIN, groups="[tenant-admin]")
    own = call({"attribute": TENANT, "value": "acme\u2003"}, sub=TENANT_ADMIN, groups="[tenant-admin]")
    # Then acme is 403, and their own tenant holds only themselves
    assert plain["statusCode"] == 403
    assert subs(own) == [TENANT_ADMIN]


# --- verified addresses only, by default --------------------------------------------------------------


@pytest.mark.usefixtures("kate_and_impostors")
def test_an_email_lookup_returns_the_verified_owner_only() -> None:
    # Given kate (verified), two users who set kate's address unverified, and a Kelvin-sign look-alike
    # When an admin looks kate's address up, by email= and by attribute=email
    by_email = call({"email": "kate@example.com"})
    by_attribute = call({"attribute": "email", "value": "KATE@example.com"})
    # Then kate alone
    assert subs(by_email) == subs(by_attribute) == ["kate"]


@pytest.mark.usefixtures("kate_and_impostors")
def test_unverified_addresses_come_back_only_when_asked_for() -> None:
    # Given kate and the users who claim her address
    # When an admin asks for unverified addresses too
    answer = call({"email": "kate@example.com", "unverified": "true"})
    # Then every user with that address comes back, still never the look-alike
    assert subs(answer) == ["claims-kate", "kate", "no-flag"]
    assert subs(call({"email": "kate@example.com", "unverified": "false"})) == ["kate"]


@pytest.mark.parametrize("flag", ["yes", "1", "TRUE", "", "true,true"])
def test_an_unverified_flag_other_than_true_or_false_is_400(flag: str) -> None:
    answer = call({"email": "kate@example.com", "unverified": flag})
    assert answer["statusCode"] == 400
    assert "unverified must be true or false" in body(answer)["message"]


def test_a_page_of_verified_addresses_is_full_while_more_match_and_its_cursor_goes_on() -> None:
    # Given nine users with one address, verified and not in turn (sub order)
    for i in range(9):
        store(f"u{i}", email="shared@example.com", email_verified="true" if i % 2 == 0 else "false")
    # When an admin reads it one user at a time
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"email": "shared@example.com", "limit": "1", **({"cursor": cursor} if cursor else {})}
        page = body(call(params))
        seen += [user["sub"] for user in page["users"]]
        assert len(page["users"]) == 1 or page["cursor"] is None
        cursor = page["cursor"]
        if cursor is None:
            break
    # Then the five verified users, each once
    assert seen == ["u0", "u2", "u4", "u6", "u8"]


def test_a_cursor_of_the_unverified_listing_is_refused_on_the_verified_one() -> None:
    for i in range(4):
        store(f"u{i}", email="shared@example.com", email_verified="false")
    first = body(call({"email": "shared@example.com", "limit": "1", "unverified": "true"}))
    answer = call({"email": "shared@example.com", "limit": "1", "cursor": first["cursor"]})
    assert answer["statusCode"] == 400


@pytest.mark.usefixtures("kate_and_impostors")
def test_the_data_layer_filters_on_verification_for_email_only() -> None:
    # Given kate and impostors, and a tenant whose users have no verified flag
    store("t1", **{TENANT: "acme"})
    # When queried through the data layer
    verified = query_users("email", "kate@example.com", limit=10)
    everyone = query_users("email", "kate@example.com", limit=10, include_unverified=True)
    tenant = query_users(TENANT, "acme", limit=10)
    # Then verification filters e-mail lookups only
    assert [u.sub for u in verified.users] == ["kate"]
    assert sorted(u.sub for u in everyone.users) == ["claims-kate", "kate", "no-flag"]
    assert [u.sub for u in tenant.users] == ["t1"]


# --- the library and the command ------------------------------------------------------------------------


@pytest.mark.usefixtures("kate_and_impostors")
def test_the_library_finds_verified_owners_unless_asked_for_unverified_ones() -> None:
    reader = MirrorReader(TABLE, dynamodb=boto3.client("dynamodb"))
    assert [p.sub for p in reader.find_by_email("KATE@example.com")] == ["kate"]
    assert [p.sub for p in reader.iter_users("email", "kate@example.com")] == ["kate"]
    assert sorted(p.sub for p in reader.find_by_email("kate@example.com", include_unverified=True)) == [
        "claims-kate",
        "kate",
        "no-flag",
    ]
    assert [p.sub for p in reader.find_by_email(KELVIN)] == ["kelvin"]


@pytest.mark.usefixtures("kate_and_impostors")
def test_the_command_finds_verified_owners_unless_include_unverified(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from functions.directory import main

    assert main(["--table", TABLE, "--find-email", "kate@example.com", "--json"]) == 0
    verified = [user["sub"] for user in json.loads(capsys.readouterr().out)["users"]]
    assert main(["--table", TABLE, "--find", "email=kate@example.com", "--include-unverified", "--json"]) == 0
    everyone = sorted(user["sub"] for user in json.loads(capsys.readouterr().out)["users"])
    assert verified == ["kate"]
    assert everyone == ["claims-kate", "kate", "no-flag"]


# --- the setting that makes verification knowable -------------------------------------------------------


def test_indexing_email_without_mirroring_email_verified_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from models.settings import ConfigurationError, load_settings

    # Given an allowlist that mirrors email but not email_verified
    monkeypatch.setenv("MIRROR_ATTRIBUTES", "email,custom:tenant")
    # When the settings load (email indexed by default, or by name)
    # Then a configuration error names the missing attribute
    with pytest.raises(ConfigurationError, match="email_verified"):
        load_settings()
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", "custom:tenant")
    assert load_settings().indexed_attributes == (TENANT,)
