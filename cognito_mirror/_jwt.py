"""Bearer token verification for services without an API Gateway JWT authorizer.

Imported only when JWT self-verification is configured (the `jwt` extra: PyJWT[crypto]). Keys live
only as long as the JWK set they came from (no per-key cache that never expires). Checks: RS256
signature, issuer, exp/nbf/iat with a small leeway, the app client in the audience. An unreachable,
non-JSON, empty or unusable key set is the provider's fault (503); an unknown kid is the token's (401).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt

from cognito_mirror._config import JwtConfig
from cognito_mirror._errors import MirrorUnavailableError, UnauthenticatedError

REQUIRED_CLAIMS = ["exp", "iat", "sub", "token_use", "iss"]
# The least time between two forced key-set refreshes caused by unknown kids.
REFRESH_COOLDOWN_SECONDS = 30.0


class TokenVerifier:
    def __init__(self, config: JwtConfig) -> None:
        self._config = config
        self._client = jwt.PyJWKClient(
            config.jwks_url,
            cache_keys=False,
            cache_jwk_set=True,
            lifespan=config.jwks_lifespan_seconds,
            timeout=config.timeout_seconds,
            cooldown_duration=0,
        )
        self._lock = threading.Lock()
        self._last_refresh = float("-inf")

    def _keys(self, *, refresh: bool = False) -> list[jwt.PyJWK]:
        try:
            return self._client.get_signing_keys(refresh=refresh)
        # ValueError: an answer that is not JSON; KeyError/TypeError: pyjwt parsing a malformed key.
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise MirrorUnavailableError(
                f"the identity provider's keys are unusable: {type(exc).__name__}"
            ) from exc

    def _key(self, kid: str) -> jwt.PyJWK:
        key = self._client.match_kid(self._keys(), kid)
        if key is None:
            with self._lock:
                due = time.monotonic() - self._last_refresh >= REFRESH_COOLDOWN_SECONDS
                if due:
                    self._last_refresh = time.monotonic()
            if due:
                key = self._client.match_kid(self._keys(refresh=True), kid)
        if key is None:
            raise UnauthenticatedError("invalid token: unknown key id")
        return key

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError(f"invalid token: {type(exc).__name__}") from exc
        kid = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(kid, str) or not kid:
            raise UnauthenticatedError("invalid token: RS256 with a key id is required")
        key = self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self._config.issuer,
                leeway=self._config.leeway_seconds,
                options={"require": REQUIRED_CLAIMS, "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError(f"invalid token: {type(exc).__name__}") from exc
        # Access tokens name their app client in client_id, ID tokens in aud.
        client = claims.get("client_id") if claims.get("token_use") == "access" else claims.get("aud")
        if client not in self._config.audience:
            raise UnauthenticatedError("token issued to another app client")
        return claims
