"""GET /me and GET /users/{sub} through functions.api.handler: the mirror's own API, built on the
cognito_mirror library (its reader, cache and in-process repair), and its clear JSON errors. What the
library decides (cache, single flight, stale-if-error, token kinds, groups) is tested in test_library_*."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fixtures import reset_process_state
from tests.support.helpers import FakeLambdaContext, body, http_event, load_event
from tests.support.users import mirror_user

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
    from tests.support.helpers import trigger_event

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


def live_claims(sub: str, username: str, groups: Any) -> dict[str, Any]:
    """Claims of a caller whose own mirrored user is live and enabled, as a privilege needs."""
    mirror_user(sub, username, {"email": f"{username}@example.com"})
    return claims_for(sub, username, groups)


def admin_claims() -> dict[str, Any]:
    return live_claims("admin-sub", "root", "[admin]")


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
    # Then 401 with a JSON message and the scheme to use
    assert response["statusCode"] == 401
    assert body(response) == {"statusCode": 401, "message": "Unauthorized"}
    assert response["headers"]["WWW-Authenticate"] == "Bearer"


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


def test_unknown_user_is_404(cognito: Any) -> None:
    # Given a token for a sub Cognito does not know
    # When /me is called
    response = call(http_event("/me", claims=claims_for("0000-unknown", "ghost")))
    # Then 404 with a JSON message
    assert response["statusCode"] == 404
    assert body(response) == {"statusCode": 404, "message": "User not found"}


def test_users_route_honours_the_configured_admin_group(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given MIRROR_ADMIN_GROUP=support
    monkeypatch.setenv("MIRROR_ADMIN_GROUP", "support")
    reset_process_state()
    sign_up()
    # When members of "admin" and of "support" read a profile
    admin = call(http_event(f"/users/{SUB}", claims=live_claims("a", "a", "[admin]")))
    support = call(http_event(f"/users/{SUB}", claims=live_claims("s", "s", "[support ops]")))
    # Then only support is allowed
    assert (admin["statusCode"], support["statusCode"]) == (403, 200)


def test_admin_reading_an_unknown_sub_is_404_and_a_malformed_one_400(cognito: Any) -> None:
    admin = admin_claims()
    # When an admin asks for an unknown sub, and for a "sub" that cannot be one
    unknown = call(http_event("/users/11111111-2222-3333-4444-555555555555", claims=admin))
    malformed = call(http_event("/users/a:b%20or", claims=admin))
    # Then 404 and 400, each a JSON message
    assert unknown["statusCode"] == 404
    assert malformed["statusCode"] == 400
    assert body(malformed) == {"statusCode": 400, "message": "malformed sub"}


def test_unknown_route_is_a_json_404() -> None:
    # When a path we do not serve is called
    response = call(http_event("/admin", claims=STRING_CLAIMS))
    # Then 404 with a JSON message, not a 500
    assert response["statusCode"] == 404
    assert body(response) == {"statusCode": 404, "message": "Not found"}


# Which values parse is the library's (test_library_reader); the API counts the ones that do not.
@pytest.mark.parametrize("raw", ["admin", ["admin", 7]])
def test_group_claims_that_cannot_be_parsed_grant_no_group_and_are_counted(
    raw: Any, capsys: pytest.CaptureFixture[str], log_output: Any
) -> None:
    # Given a mirrored user
    sign_up()
    # When a caller's cognito:groups is neither a list of names nor API Gateway's "[a b]"
    response = call(http_event(f"/users/{SUB}", claims=live_claims("other-sub", "mallory", raw)))
    # Then it grants no group (403), is counted, and its value is not logged
    assert response["statusCode"] == 403
    assert "GroupsClaimUnparsable" in capsys.readouterr().out
    assert "admin" not in log_output()


def test_read_through_uses_the_fail_fast_cognito_client(cognito: Any) -> None:
    from functions.common import cognito as cognito_module

    # Given a user missing from the mirror
    sub = cognito.create_user("fresh.face", email="fresh@example.com")
    # When their first /me triggers a read-through
    assert call(http_event("/me", claims=claims_for(sub, "fresh.face")))["statusCode"] == 200
    # Then it went through the interactive client only: one attempt, 1 s read timeout
    assert cognito_module._process_client.cache_info().currsize == 1
    config = cognito_module.cognito_client(interactive=True).meta.config
    assert (config.read_timeout, config.retries["total_max_attempts"]) == (1, 1)


@pytest.mark.parametrize(
    ("path", "claims", "status"),
    [
        ("/me", STRING_CLAIMS, 200),
        ("/me", None, 401),
        (f"/users/{SUB}", STRING_CLAIMS, 200),
        ("/nope", None, 404),
    ],
)
def test_every_answer_forbids_caching(path: str, claims: Any, status: int) -> None:
    # Given a mirrored user
    sign_up()
    # When any request is answered
    response = call(http_event(path, claims=claims))
    # Then no cache may keep it
    assert response["statusCode"] == status
    assert response["headers"]["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MIRROR_NOT_FOUND_TTL_SECONDS", "-1"),
        ("MIRROR_STALE_IF_ERROR_SECONDS", "soon"),
        ("JWT_LEEWAY_SECONDS", "3600"),
        ("JWT_LEEWAY_SECONDS", "-5"),
        ("MIRROR_ACCEPTED_TOKEN_USE", "access,refresh"),
    ],
)
def test_a_bad_read_setting_is_a_clear_configuration_error(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, log_output: Any
) -> None:
    from cognito_mirror import ConfigurationError, MirrorReader

    # Given a malformed or out-of-bounds value
    monkeypatch.setenv(name, value)
    reset_process_state()
    # When the reader is configured, Then the error names the variable
    with pytest.raises(ConfigurationError) as raised:
        MirrorReader.from_env()
    assert name in raised.value.detail
    # And the API answers a JSON 500 (a deployment fault, logged by name), never a traceback
    response = call(load_event("apigw_http_get_me"))
    assert response["statusCode"] == 500
    assert body(response) == {"statusCode": 500, "message": "Service misconfigured"}
    assert name in log_output()


@pytest.mark.parametrize("reader_http", ["", "botocore"])
@pytest.mark.parametrize("region", ["eu-west-1\nX-Injected: 1", "eu-west-€"])
def test_a_bad_region_with_an_explicit_endpoint_is_a_json_500_not_a_crash(
    region: str, reader_http: str, monkeypatch: pytest.MonkeyPatch, log_output: Any
) -> None:
    # Given the API inside Lambda with an explicit DynamoDB endpoint and a region no client accepts
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "mirror-dev-api")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("MIRROR_READER_HTTP", reader_http)
    reset_process_state()
    # When a caller asks for their profile
    response = call(load_event("apigw_http_get_me"))
    # Then a JSON 500 naming no value, the error code logged
    assert response["statusCode"] == 500
    assert body(response) == {"statusCode": 500, "message": "Service misconfigured"}
    assert "InvalidRegionError" in log_output()
