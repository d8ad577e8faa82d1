"""Bearer token verification for deployments without an API Gateway authorizer.

Imported lazily (pyjwt and cryptography cost cold-start time only where they are used).
Checks: RS256 signature against the pool's JWKS, issuer, exp/nbf/iat (with JWT_LEEWAY_SECONDS of
clock skew), the app client (`client_id` of an access token, `aud` of an ID token) in JWT_AUDIENCE.
Which token kinds identify a caller is decided in one place, identity.caller_from_claims.
alg=none, HS256 and unknown kids fail the signature step (401).

Keys live exactly as long as the key set they came from: the JWKS document is cached for
JWKS_LIFESPAN_SECONDS and no key outlives it, so a key removed from the pool's JWKS stops being
trusted within that time. An unknown kid refetches the set (at most once per 30 s, pyjwt's
cooldown) before it is refused. A JWKS endpoint that is unreachable, answers something other than
JSON, or holds no usable signing key is our dependency failing: 503, never 401 nor 500.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jwt

from functions.common.errors import ServiceUnavailableError, UnauthenticatedError
from models.settings import Settings

REQUIRED_CLAIMS = ["exp", "iat", "sub", "token_use", "iss"]
JWKS_LIFESPAN_SECONDS = 300
# A fetch that failed or gave no usable key set (json's ValueError: an answer that is not JSON).
_FETCH_ERRORS = (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, jwt.PyJWKError, ValueError)


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=False, lifespan=JWKS_LIFESPAN_SECONDS, timeout=3)


def _signing_key(url: str, token: str) -> jwt.PyJWK:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise UnauthenticatedError(f"invalid token: {type(exc).__name__}") from exc
    if not isinstance(kid, str) or not kid:
        raise UnauthenticatedError("the token names no key")
    client = _jwks_client(url)
    try:
        # The set itself first: a set with no signing key is the provider's fault, not the token's.
        client.get_signing_keys()
        try:
            return client.get_signing_key(kid)
        except _FETCH_ERRORS:
            raise
        except jwt.PyJWKClientError as exc:
            raise UnauthenticatedError("no key of the pool signed this token") from exc
    except (*_FETCH_ERRORS, jwt.PyJWKClientError) as exc:
        raise ServiceUnavailableError(
            f"the identity provider's keys are unusable: {type(exc).__name__}"
        ) from exc


def verify_token(token: str, settings: Settings) -> dict[str, Any]:
    """The claims of a Bearer token signed by the pool for one of our app clients, else 401/503."""
    assert settings.jwt_jwks_url is not None  # guaranteed by Settings.self_verify_jwt
    key = _signing_key(settings.jwt_jwks_url, token)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": REQUIRED_CLAIMS, "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise UnauthenticatedError(f"invalid token: {type(exc).__name__}") from exc
    client = claims.get("client_id") if claims.get("token_use") == "access" else claims.get("aud")
    if client not in settings.jwt_audience:
        raise UnauthenticatedError("token issued to another app client")
    return claims
