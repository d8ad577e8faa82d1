"""Bearer access-token verification for deployments without an API Gateway authorizer.

Imported lazily (pyjwt and cryptography cost cold-start time only where they are used).
Checks: RS256 signature against the pool's JWKS (cached), issuer, exp/nbf/iat, token_use=access,
client_id in JWT_AUDIENCE. alg=none, HS256 and unknown kids fail the signature step.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jwt

from functions.common.errors import ServiceUnavailableError, UnauthenticatedError
from models.settings import Settings

REQUIRED_CLAIMS = ["exp", "iat", "sub", "token_use", "client_id", "iss"]


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=3)


def verify_access_token(token: str, settings: Settings) -> dict[str, Any]:
    assert settings.jwt_jwks_url is not None  # guaranteed by Settings.self_verify_jwt
    try:
        key = _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS, "verify_aud": False},
        )
    except jwt.PyJWKClientConnectionError as exc:
        raise ServiceUnavailableError("the identity provider's keys are unreachable") from exc
    except jwt.PyJWTError as exc:
        raise UnauthenticatedError(f"invalid token: {type(exc).__name__}") from exc
    if claims.get("token_use") != "access":
        raise UnauthenticatedError("an access token is required")
    if claims.get("client_id") not in settings.jwt_audience:
        raise UnauthenticatedError("token issued to another app client")
    return claims
