"""GET /me and GET /users/{sub}: the mirror, its cache, read-through, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from functions.common.identity import parse_groups
from tests.helpers import FakeLambdaContext, body, http_event, load_event
from tests.unit.conftest import reset_process_state

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"
STRING_CLAIMS = load_event("apigw_http_get_me")["requestContext"]["authorizer"]["jwt"]["claims"]
# serverless-offline keeps JSON types: numbers stay numbers, groups stay a list.
NATIVE_CLAIMS = {
    **STRING_CLAIMS,
    "auth_time": 1764290000,
    "exp": 1764293600,
    "iat": 1764290000,
    "cognito:groups": ["admin", "ops"],
}


def call(event: dict[str, Any]) -> dict[str, Any]:
    from functions import api

    response: dict[str, Any] = api.handler(event, FakeLambdaContext())
    return response


def sign_up(sub: str = SUB, username: str = "jane.doe", **extra: str) -> None:
    from functions import post_confirmation
    from tests.helpers import trigger_event

    attrs = dict(load_event("post_confirmation_confirm_signup")["request"]["userAttributes"], **extra)
    post_confirmation.handler(
        trigger_event("post_confirmation_confirm_signup", sub=sub, username=username, attributes=attrs),
        FakeLambdaContext(),
    )


def claims_for(sub: str, username: str, groups: Any = None) -> dict[str, Any]:
    claims = {**STRING_CLAIMS, "sub": sub, "username": username}
    claims.pop("cognito:groups")
    if groups is not None:
        claims["cognito:groups"] = groups
    return claims


def test_me_returns_the_full_profile_written_by_the_sign_up_trigger() -> None:
    # Given a user mirrored by PostConfirmation
    sign_up()
    # When they call GET /me with an access token (claims as API Gateway sends them: strings)
    response = call(load_event("apigw_http_get_me"))
    # Then the profile carries what the access token lacks
    assert response["statusCode"] == 200
    profile = body(response)
    assert profile["sub"] == SUB
    assert profile["username"] == "jane.doe"
    assert profile["attributes"] == {
        "email": "jane.doe@example.com",
        "email_verified": "true",
        "given_name": "Jane",
        "family_name": "Doe",
        "custom:tenant": "acme",
    }
    assert profile["status"] == "CONFIRMED"
    assert profile["enabled"] is True
    assert profile["updated_at"].endswith("Z")


@pytest.mark.parametrize("claims", [STRING_CLAIMS, NATIVE_CLAIMS], ids=["strings", "native"])
def test_claims_as_strings_and_as_native_types_both_work(claims: dict[str, Any]) -> None:
    # Given a mirrored admin user
    sign_up()
    # When /me and an admin read arrive with either claim encoding
    me = call(http_event("/me", claims=claims))
    other = call(http_event(f"/users/{SUB}", claims=claims))
    # Then both answer 200
    assert me["statusCode"] == 200
    assert other["statusCode"] == 200
    assert body(other)["sub"] == SUB


def test_no_identity_is_401_with_a_json_body() -> None:
    # Given a request without an authorizer context and no self-verification configured
    # When it calls /me
    response = call(http_event("/me", claims=None))
    # Then 401 with a JSON message
    assert response["statusCode"] == 401
    assert body(response) == {"message": "Unauthorized"}


@pytest.mark.parametrize("claims", [{"username": "x"}, {"sub": ""}, {"sub": 12}])
def test_claims_without_a_usable_sub_are_401(claims: dict[str, Any]) -> None:
    # Given an authorizer context whose claims have no usable subject
    # When /me is called
    response = call(http_event("/me", claims=claims))
    # Then 401
    assert response["statusCode"] == 401


def test_a_miss_is_repaired_by_read_through_from_cognito(cognito: Any, raw_item: Any) -> None:
    # Given a user who exists in Cognito but not in the mirror (signed up before it existed)
    sub = cognito.create_user(
        "early.bird", email="early@example.com", given_name="Early", custom__tenant="t1"
    )
    assert raw_item(sub) is None
    # When they call /me
    response = call(http_event("/me", claims=claims_for(sub, "early.bird")))
    # Then they get their profile and the mirror now holds it
    assert response["statusCode"] == 200
    assert body(response)["attributes"]["custom:tenant"] == "t1"
    assert raw_item(sub)["source"]["S"] == "read_through"


def test_read_through_by_sub_alone_uses_the_pool_listing(cognito: Any) -> None:
    # Given a user missing from the mirror, and an admin asking for them by sub
    sub = cognito.create_user("late.joiner", email="late@example.com")
    admin = claims_for("admin-sub", "root", groups="[admin]")
    # When the admin reads /users/{sub}
    response = call(http_event(f"/users/{sub}", claims=admin))
    # Then Cognito's copy is served
    assert response["statusCode"] == 200
    assert body(response)["username"] == "late.joiner"


def test_unknown_user_is_404(cognito: Any) -> None:
    # Given a token for a sub Cognito does not know
    # When /me is called
    response = call(http_event("/me", claims=claims_for("0000-unknown", "ghost")))
    # Then 404 with a JSON message
    assert response["statusCode"] == 404
    assert body(response) == {"message": "User not found"}


def test_username_claim_of_another_user_never_leaks_their_profile(cognito: Any) -> None:
    # Given two users, and claims whose username names the other one
    cognito.create_user("victim", email="victim@example.com")
    attacker_sub = cognito.create_user("attacker", email="attacker@example.com")
    # When the attacker's sub comes with the victim's username (a mirror miss: read-through)
    response = call(http_event("/me", claims=claims_for(attacker_sub, "victim")))
    # Then the username resolves to another sub: 404, and nothing of the victim's in the answer
    assert response["statusCode"] == 404
    assert "victim" not in response["body"]


def test_deleted_user_is_404() -> None:
    # Given a mirrored user who was deleted
    from models.mirror_table import put_tombstone
    from models.user import now_us

    sign_up()
    put_tombstone(SUB, observed_at=now_us(), source="attribute_sync")
    # When an admin asks for them
    response = call(http_event(f"/users/{SUB}", claims=claims_for("admin-sub", "root", "[admin]")))
    # Then 404
    assert response["statusCode"] == 404


@pytest.mark.parametrize("groups", [None, "[ops]", ["ops", "users"], "admins", "[administrators]"])
def test_users_route_is_403_for_non_admins(groups: Any) -> None:
    # Given a mirrored user and a caller outside the admin group
    sign_up()
    # When the caller reads another user's profile
    response = call(http_event(f"/users/{SUB}", claims=claims_for("other-sub", "mallory", groups)))
    # Then 403, and no profile data in the answer
    assert response["statusCode"] == 403
    assert body(response) == {"message": "Forbidden"}


def test_users_route_honours_the_configured_admin_group(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given MIRROR_ADMIN_GROUP=support
    monkeypatch.setenv("MIRROR_ADMIN_GROUP", "support")
    reset_process_state()
    sign_up()
    # When members of "admin" and of "support" read a profile
    admin = call(http_event(f"/users/{SUB}", claims=claims_for("a", "a", "[admin]")))
    support = call(http_event(f"/users/{SUB}", claims=claims_for("s", "s", "[support ops]")))
    # Then only support is allowed
    assert (admin["statusCode"], support["statusCode"]) == (403, 200)


def test_admin_reading_an_unknown_sub_is_404_and_a_malformed_one_400(cognito: Any) -> None:
    admin = claims_for("admin-sub", "root", "[admin]")
    # When an admin asks for an unknown sub, and for a "sub" that cannot be one
    unknown = call(http_event("/users/11111111-2222-3333-4444-555555555555", claims=admin))
    malformed = call(http_event("/users/a:b%20or", claims=admin))
    # Then 404 and 400
    assert unknown["statusCode"] == 404
    assert malformed["statusCode"] == 400


def test_cached_profile_is_served_without_another_read(ddb: Any) -> None:
    # Given a profile read once
    sign_up()
    assert call(load_event("apigw_http_get_me"))["statusCode"] == 200
    # When the row disappears from the table behind the cache's back
    ddb.delete_item(TableName="mirror-test", Key={"sub": {"S": SUB}})
    # Then the cache still answers within its TTL
    assert call(load_event("apigw_http_get_me"))["statusCode"] == 200


def test_cache_disabled_reads_the_mirror_every_time(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given MIRROR_CACHE_TTL_SECONDS=0
    monkeypatch.setenv("MIRROR_CACHE_TTL_SECONDS", "0")
    reset_process_state()
    sign_up()
    assert call(load_event("apigw_http_get_me"))["statusCode"] == 200
    # When the row disappears
    ddb.delete_item(TableName="mirror-test", Key={"sub": {"S": SUB}})
    # Then the next read sees it (no pool configured: no read-through, 404)
    assert call(load_event("apigw_http_get_me"))["statusCode"] == 404


def test_mirror_outage_serves_a_stale_copy_or_a_clear_503(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.common import profiles
    from models.mirror_table import MirrorUnavailableError

    # Given a cached profile whose entry has expired
    monkeypatch.setenv("MIRROR_CACHE_TTL_SECONDS", "0.001")
    reset_process_state()
    sign_up()
    assert call(load_event("apigw_http_get_me"))["statusCode"] == 200

    def down(sub: str, **_: Any) -> None:
        raise MirrorUnavailableError("down")

    monkeypatch.setattr(profiles, "get_record", down)
    # When DynamoDB fails
    stale = call(load_event("apigw_http_get_me"))
    # Then the stale copy is served; and a caller never cached gets a 503 JSON answer
    assert stale["statusCode"] == 200
    other = call(http_event("/me", claims=claims_for("never-seen", "nobody")))
    assert other["statusCode"] == 503
    assert body(other) == {"message": "Service temporarily unavailable"}


def test_unknown_route_is_a_json_404() -> None:
    # When a path we do not serve is called
    response = call(http_event("/admin", claims=STRING_CLAIMS))
    # Then 404, not a 500
    assert response["statusCode"] == 404


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[admin ops]", {"admin", "ops"}),
        ("[admin]", {"admin"}),
        (["admin", "ops"], {"admin", "ops"}),
        ("[]", set()),
        ("", set()),
        (None, set()),
        # Names are kept exactly as API Gateway flattened them: quotes, commas and brackets included.
        ("[ops,admin]", {"ops,admin"}),
        ('["admin"]', {'"admin"'}),
        ("['admin']", {"'admin'"}),
        ('[admin"]', {'admin"'}),
        ('["admin","ops"]', {'"admin","ops"'}),
        ("[[admin] ops]", {"[admin]", "ops"}),
        (["ops,admin"], {"ops,admin"}),
    ],
)
def test_group_claims_are_parsed_exactly_as_api_gateway_flattens_them(raw: Any, expected: set[str]) -> None:
    assert parse_groups(raw) == expected


@pytest.mark.parametrize(
    "raw", ["admin", "[admin", "admin]", " [admin]", 7, {"admin": 1}, ["admin", 7], [""]]
)
def test_group_claims_that_cannot_be_parsed_grant_no_group_and_are_counted(
    raw: Any, capsys: pytest.CaptureFixture[str], log_output: Any
) -> None:
    from functions.common.observability import metrics

    # When a cognito:groups value is neither a list of names nor API Gateway's "[a b]"
    groups = parse_groups(raw)
    metrics.flush_metrics()
    # Then it grants no group, is counted, and its value is not logged
    assert groups == frozenset()
    assert "GroupsClaimUnparsable" in capsys.readouterr().out
    assert "admin" not in log_output()


@pytest.mark.parametrize(
    "groups", ["[ops,admin]", '["admin"]', "['admin']", '[admin"]', '["ops","admin"]', "[admin,ops]"]
)
def test_a_group_that_merely_contains_the_admin_name_is_403_on_users(groups: str) -> None:
    # Given a mirrored user, and a caller whose one group only looks like "admin" once flattened
    sign_up()
    claims = claims_for("other-sub", "mallory", groups)
    # When the caller reads another user's profile
    response = call(http_event(f"/users/{SUB}", claims=claims))
    # Then 403, as for the same group sent as a native list
    native = call(http_event(f"/users/{SUB}", claims={**claims, "cognito:groups": [groups[1:-1]]}))
    assert (response["statusCode"], native["statusCode"]) == (403, 403)


def test_read_through_uses_the_fail_fast_cognito_client(cognito: Any) -> None:
    from functions.common import cognito as cognito_module

    # Given a user missing from the mirror
    sub = cognito.create_user("fresh.face", email="fresh@example.com")
    # When their first /me triggers a read-through
    assert call(http_event("/me", claims=claims_for(sub, "fresh.face")))["statusCode"] == 200
    # Then it went through the interactive client only: one attempt, 1 s read timeout
    assert list(cognito_module._clients) == [True]
    config = cognito_module._clients[True].meta.config
    assert (config.read_timeout, config.retries["total_max_attempts"]) == (1, 1)
