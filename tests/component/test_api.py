"""GET /me and GET /users/{sub} through functions.api.handler: the mirror's own API, built on the
cognito_mirror library (its reader, cache and in-process repair), and its clear JSON errors."""

from __future__ import annotations

import copy
import uuid
from concurrent.futures import ThreadPoolExecutor
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


def mirror_down() -> None:
    """From now on every GetItem of the API's reader fails at the connection (DynamoDB down)."""
    from botocore.exceptions import EndpointConnectionError

    from functions.common.reader import mirror_reader

    def refuse(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    mirror_reader()._ddb().meta.events.register("before-send.dynamodb.GetItem", refuse)


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
    admin = admin_claims()
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
    assert body(response) == {"statusCode": 404, "message": "User not found"}


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
    from models.table import mirror_table
    from models.user import now_us

    sign_up()
    mirror_table().put_tombstone(SUB, observed_at=now_us(), source="attribute_sync")
    # When an admin asks for them
    response = call(http_event(f"/users/{SUB}", claims=admin_claims()))
    # Then 404
    assert response["statusCode"] == 404


@pytest.mark.parametrize("groups", [None, "[ops]", ["ops", "users"], "admins", "[administrators]"])
def test_users_route_is_403_for_non_admins(groups: Any) -> None:
    # Given a mirrored user and a caller outside the admin group
    sign_up()
    # When the caller reads another user's profile
    response = call(http_event(f"/users/{SUB}", claims=live_claims("other-sub", "mallory", groups)))
    # Then 403, and no profile data in the answer
    assert response["statusCode"] == 403
    assert body(response) == {"statusCode": 403, "message": "Forbidden"}


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
    # Given a cached profile whose entry has expired
    monkeypatch.setenv("MIRROR_CACHE_TTL_SECONDS", "0.001")
    reset_process_state()
    sign_up()
    assert call(load_event("apigw_http_get_me"))["statusCode"] == 200
    mirror_down()
    # When DynamoDB fails
    stale = call(load_event("apigw_http_get_me"))
    # Then the stale copy is served; and a caller never cached gets a 503 JSON answer to retry
    assert stale["statusCode"] == 200
    other = call(http_event("/me", claims=claims_for("never-seen", "nobody")))
    assert other["statusCode"] == 503
    assert body(other) == {"statusCode": 503, "message": "Service temporarily unavailable"}
    assert other["headers"]["Retry-After"] == "1"


def test_unknown_route_is_a_json_404() -> None:
    # When a path we do not serve is called
    response = call(http_event("/admin", claims=STRING_CLAIMS))
    # Then 404 with a JSON message, not a 500
    assert response["statusCode"] == 404
    assert body(response) == {"statusCode": 404, "message": "Not found"}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("[admin ops]", 200),
        ("[admin]", 200),
        (["admin", "ops"], 200),
        ("[ops admin]", 200),
        ("[]", 403),
        ("", 403),
        (None, 403),
        # Names are kept exactly as API Gateway flattened them: quotes, commas and brackets included.
        ("[ops,admin]", 403),
        ('["admin"]', 403),
        ("['admin']", 403),
        ('[admin"]', 403),
        ('["admin","ops"]', 403),
        ("[[admin] ops]", 403),
        (["ops,admin"], 403),
    ],
)
def test_group_claims_are_parsed_exactly_as_api_gateway_flattens_them(raw: Any, status: int) -> None:
    # Given a mirrored user, and a caller with this cognito:groups claim
    sign_up()
    # When the caller reads them by sub
    response = call(http_event(f"/users/{SUB}", claims=live_claims("other-sub", "mallory", raw)))
    # Then only a group named exactly "admin" opens the route
    assert response["statusCode"] == status


@pytest.mark.parametrize(
    "raw", ["admin", "[admin", "admin]", " [admin]", 7, {"admin": 1}, ["admin", 7], [""]]
)
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


@pytest.mark.parametrize(
    "groups", ["[ops,admin]", '["admin"]', "['admin']", '[admin"]', '["ops","admin"]', "[admin,ops]"]
)
def test_a_group_that_merely_contains_the_admin_name_is_403_on_users(groups: str) -> None:
    # Given a mirrored user, and a caller whose one group only looks like "admin" once flattened
    sign_up()
    claims = live_claims("other-sub", "mallory", groups)
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
    assert cognito_module._process_client.cache_info().currsize == 1
    config = cognito_module.cognito_client(interactive=True).meta.config
    assert (config.read_timeout, config.retries["total_max_attempts"]) == (1, 1)


def mirror_directly(*, enabled: bool) -> None:
    """The fixture's user written straight through the guarded path (no trigger, no budget)."""
    from models.table import mirror_table
    from models.user import UserSnapshot, now_us

    attributes = {"email": "jane.doe@example.com"}
    mirror_table().put_snapshot(
        UserSnapshot(SUB, "jane.doe", attributes, "CONFIRMED", enabled, now_us(), "attribute_sync")
    )


def cognito_calls(delay: float = 0.0) -> list[str]:
    """Every Cognito API call the read-through makes from now on, by operation name."""
    from functions.common import cognito as cognito_module

    calls: list[str] = []
    client = cognito_module.cognito_client(interactive=True)

    def seen(model: Any, **_: Any) -> None:
        calls.append(model.name)
        if delay:
            import time

            time.sleep(delay)

    client.meta.events.register("before-call.cognito-idp.*", seen)
    return calls


def test_a_handler_cannot_change_the_cached_profile_other_requests_see() -> None:
    from functions.common.reader import mirror_reader

    # Given a caller's profile, read once through the API's reader (now cached)
    sign_up()
    event = load_event("apigw_http_get_me")
    profile = mirror_reader().get_caller_profile(event)
    # When a handler tries to edit it, directly and through to_dict()
    with pytest.raises(TypeError):
        profile.attributes["email"] = "changed@example.com"  # type: ignore[index]
    plain = profile.to_dict()
    plain["attributes"]["email"] = "changed@example.com"
    # Then the next request in the same container sees the stored profile
    assert mirror_reader().get_caller_profile(event).attributes["email"] == "jane.doe@example.com"
    assert body(call(load_event("apigw_http_get_me")))["attributes"]["email"] == "jane.doe@example.com"


def test_an_admin_probing_an_unknown_sub_costs_one_cognito_call_per_ttl(cognito: Any) -> None:
    # Given an admin and a sub nobody has
    admin = admin_claims()
    calls = cognito_calls()
    # When they ask for it ten times
    answers = [call(http_event(f"/users/{uuid.UUID(int=99)}", claims=admin))["statusCode"] for _ in range(10)]
    # Then ten 404s, from one Cognito search (the "not found" is remembered)
    assert answers == [404] * 10
    assert calls == ["ListUsers"]


def test_a_token_whose_user_is_gone_costs_one_admin_get_user_and_no_search(cognito: Any) -> None:
    # Given a valid token for a user deleted from Cognito before the mirror ever saw them
    calls = cognito_calls()
    claims = claims_for(str(uuid.UUID(int=98)), "gone.user")
    # When it calls /me five times
    answers = [call(http_event("/me", claims=claims))["statusCode"] for _ in range(5)]
    # Then five 404s from one AdminGetUser: no ListUsers fallback, and the miss is remembered
    assert answers == [404] * 5
    assert calls == ["AdminGetUser"]


def test_the_not_found_cache_can_be_turned_off(cognito: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given MIRROR_NOT_FOUND_TTL_SECONDS=0
    monkeypatch.setenv("MIRROR_NOT_FOUND_TTL_SECONDS", "0")
    reset_process_state()
    calls = cognito_calls()
    # When a token for an unknown user calls /me three times, Then each asks Cognito again
    claims = claims_for(str(uuid.UUID(int=97)), "nobody")
    assert [call(http_event("/me", claims=claims))["statusCode"] for _ in range(3)] == [404] * 3
    assert calls == ["AdminGetUser"] * 3


def test_concurrent_misses_for_one_sub_make_one_cognito_call(cognito: Any) -> None:
    # Given a user missing from the mirror, and a Cognito that takes 0.3 s to answer
    sub = cognito.create_user("rush.hour", email="rush@example.com")
    calls = cognito_calls(delay=0.3)
    event = http_event("/me", claims=claims_for(sub, "rush.hour"))
    # When eight requests for that user arrive at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: call(copy.deepcopy(event)), range(8)))
    # Then every one is served, from one Cognito call
    assert [a["statusCode"] for a in answers] == [200] * 8
    assert {body(a)["sub"] for a in answers} == {sub}
    assert calls == ["AdminGetUser"]


def test_a_stale_profile_is_not_served_past_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    # Given a cached profile that expired longer ago than MIRROR_STALE_IF_ERROR_SECONDS
    monkeypatch.setenv("MIRROR_CACHE_TTL_SECONDS", "0.001")
    monkeypatch.setenv("MIRROR_STALE_IF_ERROR_SECONDS", "0.05")
    reset_process_state()
    mirror_directly(enabled=True)
    assert call(load_event("apigw_http_get_me"))["statusCode"] == 200
    time.sleep(0.1)
    mirror_down()
    # When DynamoDB fails, Then the too-old copy is not served: 503
    assert call(load_event("apigw_http_get_me"))["statusCode"] == 503


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


def test_a_disabled_user_reading_me_is_403_while_an_admin_still_reads_them() -> None:
    # Given a user disabled in Cognito (the mirror says enabled=false) whose access token still lives
    mirror_directly(enabled=False)
    # When they read /me, and an admin reads them by sub
    own = call(load_event("apigw_http_get_me"))
    admin = call(http_event(f"/users/{SUB}", claims=admin_claims()))
    # Then the user is refused, and the admin sees enabled=false
    assert own["statusCode"] == 403
    assert body(own) == {"statusCode": 403, "message": "User is disabled"}
    assert admin["statusCode"] == 200
    assert body(admin)["enabled"] is False


def test_get_caller_profile_raises_user_disabled_for_a_disabled_caller() -> None:
    from aws_lambda_powertools.event_handler.exceptions import ForbiddenError

    from cognito_mirror import UserDisabledError, get_caller_profile

    # Given a disabled user, When a handler asks the library for their profile, Then a 403-kind error
    mirror_directly(enabled=False)
    with pytest.raises(UserDisabledError) as raised:
        get_caller_profile(load_event("apigw_http_get_me"))
    assert isinstance(raised.value, ForbiddenError)


@pytest.mark.parametrize("token_use", ["id", None, "refresh", ["access"]])
def test_only_access_tokens_identify_a_caller_by_default(token_use: Any) -> None:
    # Given a mirrored admin, and authorizer claims of another kind of token (or of none)
    sign_up()
    claims = {**STRING_CLAIMS, "token_use": token_use}
    if token_use is None:
        claims.pop("token_use")
    # When /me and /users/{sub} are called, Then both are 401
    assert call(http_event("/me", claims=claims))["statusCode"] == 401
    assert call(http_event(f"/users/{SUB}", claims=claims))["statusCode"] == 401


def test_id_tokens_identify_a_caller_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given MIRROR_ACCEPTED_TOKEN_USE=access,id and an ID token's claims
    monkeypatch.setenv("MIRROR_ACCEPTED_TOKEN_USE", "access,id")
    reset_process_state()
    sign_up()
    claims = {**STRING_CLAIMS, "token_use": "id", "cognito:username": "jane.doe"}
    # When /me is called, Then it is served
    assert call(http_event("/me", claims=claims))["statusCode"] == 200


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
