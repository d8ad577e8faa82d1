"""The library's Bearer-token self-verification: JWKS failures are 503, bad tokens 401."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from cognito_mirror import JwtConfig, MirrorReader, MirrorUnavailableError, UnauthenticatedError
from tests.support.fixtures import TABLE
from tests.support.helpers import http_event
from tests.support.loopback import json_server

pytestmark = pytest.mark.loopback

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_LIB"
CLIENT = "library-client"
KID = "library-key"
SUB = str(uuid.UUID(int=2002))
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWK = {**RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": KID, "alg": "RS256", "use": "sig"}


def token(kid: str = KID, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": SUB, "iss": ISSUER, "client_id": CLIENT, "token_use": "access", "iat": now}
    claims |= {"exp": now + 600, "username": "jane.doe", **overrides}
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": kid})


def caller_with(jwks_answer: Any, bearer: str) -> Any:
    with json_server(lambda method, path, raw: (200, jwks_answer)) as server:
        config = JwtConfig(issuer=ISSUER, jwks_url=f"{server.url}/jwks.json", audience=frozenset({CLIENT}))
        reader = MirrorReader(TABLE, jwt=config)
        event = http_event("/me", claims=None, headers={"authorization": f"Bearer {bearer}"})
        return reader.get_caller(event)


def test_a_valid_access_token_identifies_the_caller() -> None:
    # Given the pool's key set / When a valid token arrives / Then its subject is the caller
    assert caller_with({"keys": [JWK]}, token()).sub == SUB


@pytest.mark.parametrize("answer", [{"keys": []}, "<html>down</html>", {"keys": [{"kty": "oct"}]}])
def test_an_empty_or_unusable_key_set_is_a_503(answer: Any) -> None:
    # Given a JWKS endpoint answering no usable key / When a token arrives / Then 503, not 401 or 500
    with pytest.raises(MirrorUnavailableError):
        caller_with(answer, token())


@pytest.mark.parametrize(
    "bearer",
    [
        token(kid="another-key"),
        token(exp=int(time.time()) - 3600),
        token(iss="https://evil.example"),
        token(client_id="other-client"),
        token(token_use="id"),
        "not-a-jwt",
    ],
)
def test_a_bad_token_is_a_401(bearer: str) -> None:
    # Given the pool's key set / When a bad token arrives / Then 401
    with pytest.raises(UnauthenticatedError):
        caller_with({"keys": [JWK]}, bearer)


def test_a_verified_id_token_is_a_401_that_says_why_and_names_the_setting() -> None:
    # Given the pool's key set, and a valid ID token (its app client in aud) where access tokens count
    bearer = token(token_use="id", aud=CLIENT, client_id=None)
    # When it arrives as the Bearer token
    with pytest.raises(UnauthenticatedError) as refused:
        caller_with({"keys": [JWK]}, bearer)
    # Then the 401's message and RFC 6750 challenge say which kind counts and which setting decides
    description = "An ID token was sent: only access tokens are accepted (setting MIRROR_ACCEPTED_TOKEN_USE)"
    assert (refused.value.status_code, refused.value.msg) == (401, description)
    assert refused.value.headers["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{description}"'
    )
    assert refused.value.headers["Cache-Control"] == "no-store"
