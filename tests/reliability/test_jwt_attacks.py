"""Bearer-token self-verification (no authorizer) against the usual JWT attacks.

The test makes an RSA key, serves its JWKS from a loopback server, turns verification on with
JWT_ISSUER / JWT_JWKS_URL / JWT_AUDIENCE, and calls GET /me with `Authorization: Bearer <token>`
and no authorizer context. A valid access token gets 200; every attack gets 401 with a JSON body.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.fixtures import reset_process_state
from tests.support.helpers import FakeLambdaContext, body, http_event
from tests.support.loopback import Server, closed_port, json_server
from tests.support.users import mirror_user

pytestmark = pytest.mark.loopback

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_RELIAB"
CLIENT_ID = "reliability-client"
KID = "reliability-key-1"
CALLER = str(uuid.UUID(int=1001))

Token = Callable[..., str]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


# One pool key and one attacker key for the whole module (RSA generation is slow).
POOL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key() -> rsa.RSAPrivateKey:
    return POOL_KEY


def public_jwk(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    return {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256", "use": "sig"}


@contextlib.contextmanager
def serving(answer: Callable[[], tuple[int, Any]], monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """`answer()` served as the pool's JWKS on loopback; verification turned on; the caller mirrored."""
    with json_server(lambda method, path, raw: answer()) as server:
        monkeypatch.setenv("JWT_ISSUER", ISSUER)
        monkeypatch.setenv("JWT_JWKS_URL", f"{server.url}/.well-known/jwks.json")
        monkeypatch.setenv("JWT_AUDIENCE", f"other-client,{CLIENT_ID}")
        reset_process_state()
        mirror_user(CALLER, "jane.doe", {"email": "jane.doe@example.com", "given_name": "Jane"})
        yield server


@pytest.fixture
def jwks(key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The key's JWKS on a loopback server; verification turned on; the caller mirrored."""
    with serving(lambda: (200, {"keys": [public_jwk(key)]}), monkeypatch) as server:
        yield server


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": CALLER,
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "username": "jane.doe",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: rsa.RSAPrivateKey, payload: dict[str, Any], kid: str = KID, alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def get_me(token: str) -> dict[str, Any]:
    from functions.api import handler

    event = http_event("/me", claims=None, headers={"authorization": f"Bearer {token}"})
    response: dict[str, Any] = handler(event, FakeLambdaContext())
    return response


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def attacks(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """Every token an attacker might try, by name."""
    hs_header = {"alg": "HS256", "typ": "JWT", "kid": KID}
    hs_body = unsigned(hs_header, claims())
    hs_sig = hmac.new(public_pem(key), hs_body.encode(), hashlib.sha256).digest()
    valid = sign(key, claims())
    head, _, sig = valid.split(".")
    forged = b64url(
        json.dumps({**claims(), "sub": str(uuid.UUID(int=2002)), "cognito:groups": ["admin"]}).encode()
    )
    now = int(time.time())
    id_token = claims(token_use="id", client_id=None, aud=CLIENT_ID, email="jane.doe@example.com")
    return {
        "alg=none": unsigned({"alg": "none", "typ": "JWT", "kid": KID}, claims()) + ".",
        "alg=None, signature kept": unsigned({"alg": "None", "kid": KID}, claims()) + f".{sig}",
        "HS256 signed with the public key": f"{hs_body}.{b64url(hs_sig)}",
        "unknown kid": sign(key, claims(), kid="not-in-jwks"),
        "right kid, another key": sign(OTHER_KEY, claims()),
        "RS512 instead of RS256": sign(key, claims(), alg="RS512"),
        "wrong issuer": sign(key, claims(iss="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_EVIL")),
        "issuer with a suffix": sign(key, claims(iss=ISSUER + "/")),
        "wrong client_id": sign(key, claims(client_id="attacker-client")),
        "no client_id": sign(key, claims(client_id=None)),
        "ID token (token_use=id)": sign(key, id_token),
        "ID token carrying a client_id": sign(key, claims(token_use="id", aud=CLIENT_ID)),
        "no token_use": sign(key, claims(token_use=None)),
        "expired": sign(key, claims(iat=now - 7200, exp=now - 60)),
        "no exp": sign(key, claims(exp=None)),
        "not yet valid (nbf in the future)": sign(key, claims(nbf=now + 600)),
        "issued in the future (iat)": sign(key, claims(iat=now + 600, exp=now + 4200)),
        "tampered payload": f"{head}.{forged}.{sig}",
        "signature stripped": f"{head}.{valid.split('.')[1]}.",
        "garbage": "not-a-jwt",
        "empty sub": sign(key, claims(sub="")),
    }


ATTACK_NAMES = sorted(attacks(POOL_KEY))


def test_a_valid_access_token_reads_the_callers_profile(jwks: Server, key: rsa.RSAPrivateKey) -> None:
    # Given a valid access token for the caller
    token = sign(key, claims())
    # When it calls GET /me without an authorizer
    response = get_me(token)
    # Then it gets its own profile, and the keys came from the loopback JWKS
    assert response["statusCode"] == 200
    assert body(response)["sub"] == CALLER
    assert jwks.requests and jwks.requests[0][1] == "/.well-known/jwks.json"


@pytest.mark.parametrize("attack", ATTACK_NAMES)
def test_every_attack_token_is_refused_with_a_json_401(
    jwks: Server, key: rsa.RSAPrivateKey, attack: str
) -> None:
    # Given an attacker's token
    token = attacks(key)[attack]
    # When it calls GET /me
    response = get_me(token)
    # Then it gets 401 with a JSON message and a Bearer challenge, never the profile; a genuine ID
    # token is told which kind counts (nothing an attacker did not know), every other one nothing
    assert response["statusCode"] == 401, attack
    if attack.startswith("ID token"):
        assert body(response)["message"].startswith("An ID token was sent: only access tokens")
        assert response["headers"]["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    else:
        assert body(response) == {"statusCode": 401, "message": "Unauthorized"}
        assert response["headers"].get("WWW-Authenticate") == "Bearer"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic amFuZTpzZWNyZXQ=", "bearer", "Token abc"])
def test_a_missing_or_malformed_authorization_header_is_a_json_401(jwks: Server, header: str) -> None:
    from functions.api import handler

    # Given a request with no usable bearer token
    event = http_event("/me", claims=None, headers={"authorization": header})
    # When it arrives, Then it is refused with a JSON 401
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == 401
    assert body(response) == {"statusCode": 401, "message": "Unauthorized"}


def test_unreachable_keys_are_a_503_not_a_401_nor_a_hang(
    key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given verification pointing at a JWKS URL nobody listens on
    monkeypatch.setenv("JWT_ISSUER", ISSUER)
    monkeypatch.setenv("JWT_JWKS_URL", f"{closed_port()}/.well-known/jwks.json")
    monkeypatch.setenv("JWT_AUDIENCE", CLIENT_ID)
    reset_process_state()
    # When a valid token arrives
    response = get_me(sign(key, claims()))
    # Then the caller is told to retry (the token may be fine), with a JSON body
    assert response["statusCode"] == 503
    assert body(response) == {"statusCode": 503, "message": "Service temporarily unavailable"}


def expire_key_set_cache() -> None:
    """Age the cached JWKS document past its lifespan, as time would in a warm container."""
    from functions.common.reader import mirror_reader

    cache = mirror_reader()._token_verifier()._client.jwk_set_cache
    assert cache is not None
    cache.lifespan = 0.001
    time.sleep(0.01)


def test_a_key_removed_from_the_jwks_is_refused_once_the_key_set_expires(
    key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a warm container that verified a token signed by the pool's key
    served = {"keys": [public_jwk(key)]}
    with serving(lambda: (200, served), monkeypatch):
        token = sign(key, claims())
        assert get_me(token)["statusCode"] == 200
        # When the pool revokes that key (rotated: another key is served) and the cached set expires
        served = {"keys": [public_jwk(OTHER_KEY, kid="reliability-key-2")]}
        expire_key_set_cache()
        response = get_me(token)
    # Then a token signed by the revoked key is refused
    assert response["statusCode"] == 401
    assert body(response) == {"statusCode": 401, "message": "Unauthorized"}


BROKEN_KEY_SETS: dict[str, tuple[int, Any]] = {
    "not JSON (an HTML error page)": (200, b"<html><body>Bad Gateway</body></html>"),
    "JSON but not an object": (200, ["keys"]),
    "no keys": (200, {"keys": []}),
    "no keys member": (200, {}),
    "only an encryption key": (200, {"keys": [{**public_jwk(POOL_KEY), "use": "enc"}]}),
    "only an unsupported key type": (200, {"keys": [{"kty": "XYZ", "kid": KID, "use": "sig"}]}),
    "a 500 answer": (500, {"message": "internal error"}),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_KEY_SETS))
def test_a_broken_jwks_endpoint_is_a_json_503_with_retry_after(
    key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    # Given the pool's JWKS endpoint answering something no key can come from
    with serving(lambda: BROKEN_KEY_SETS[broken], monkeypatch):
        # When a valid token arrives
        response = get_me(sign(key, claims()))
    # Then the dependency is at fault: a JSON 503 asking to retry, never a 401 nor a 500
    assert response["statusCode"] == 503, broken
    assert body(response) == {"statusCode": 503, "message": "Service temporarily unavailable"}
    assert response["headers"]["Retry-After"] == "1"


def test_an_unknown_kid_in_a_good_key_set_stays_401_after_one_refetch(
    jwks: Server, key: rsa.RSAPrivateKey
) -> None:
    # Given a good key set, already fetched
    assert get_me(sign(key, claims()))["statusCode"] == 200
    fetched = len(jwks.requests)
    # When tokens with kids the set does not hold arrive
    answers = [get_me(sign(key, claims(), kid=f"unknown-{n}"))["statusCode"] for n in range(5)]
    # Then each is a 401, and the set was refetched at most once (pyjwt's cooldown)
    assert answers == [401] * 5
    assert len(jwks.requests) - fetched <= 1


def test_a_token_minted_a_few_seconds_ahead_of_our_clock_is_accepted(
    jwks: Server, key: rsa.RSAPrivateKey
) -> None:
    # Given a token whose iat is 2 s in our future (the issuer's clock runs ahead)
    now = int(time.time())
    token = sign(key, claims(iat=now + 2, nbf=now + 2, exp=now + 3602))
    # When it calls GET /me, Then it is within the default leeway
    assert get_me(token)["statusCode"] == 200


def test_id_tokens_are_accepted_only_when_configured(
    jwks: Server, key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.common.reader import mirror_reader

    id_token = sign(key, claims(token_use="id", client_id=None, aud=CLIENT_ID))
    # Given the default setting (access tokens only), an ID token is refused
    assert get_me(id_token)["statusCode"] == 401
    # When MIRROR_ACCEPTED_TOKEN_USE=access,id
    monkeypatch.setenv("MIRROR_ACCEPTED_TOKEN_USE", "access,id")
    mirror_reader.cache_clear()
    # Then the same ID token reads the profile, and one for another app client still does not
    assert get_me(id_token)["statusCode"] == 200
    assert get_me(sign(key, claims(token_use="id", client_id=None, aud="attacker")))["statusCode"] == 401
