"""Who is calling: verified claims only, never a header or path the caller controls.

Claims come from the HTTP API's JWT authorizer (`requestContext.authorizer.jwt.claims`: all
strings on AWS, native JSON types under serverless-offline). Without an authorizer, and only when
JWT_ISSUER / JWT_JWKS_URL / JWT_AUDIENCE are set, the Bearer access token is verified here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.common.errors import UnauthenticatedError
from models.settings import get_settings


@dataclass(frozen=True)
class Caller:
    sub: str
    username: str | None
    groups: frozenset[str]


def parse_groups(value: Any) -> frozenset[str]:
    """`cognito:groups` as a list (native), '["a","b"]' (JSON) or '[a b]' (API Gateway's flattening)."""
    if value is None:
        return frozenset()
    if isinstance(value, (list, tuple)):
        return frozenset(str(item) for item in value if isinstance(item, str) and item)
    if not isinstance(value, str):
        return frozenset()
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            decoded = json.loads(text)
        except ValueError:
            text = text[1:-1]
        else:
            if isinstance(decoded, list):
                return parse_groups(decoded)
            text = text[1:-1]
    parts = text.replace(",", " ").split()
    return frozenset(part.strip("\"'") for part in parts if part.strip("\"'"))


def _authorizer_claims(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    jwt = authorizer.get("jwt") if isinstance(authorizer, Mapping) else None
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    return claims if isinstance(claims, Mapping) and claims else None


def _bearer_token(event: Mapping[str, Any]) -> str | None:
    headers = event.get("headers")
    if not isinstance(headers, Mapping):
        return None
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise UnauthenticatedError("the token has no subject")
    username = claims.get("username", claims.get("cognito:username"))
    return Caller(
        sub=sub.strip(),
        username=username if isinstance(username, str) and username else None,
        groups=parse_groups(claims.get("cognito:groups")),
    )


def caller_from_event(event: Mapping[str, Any]) -> Caller:
    """The verified caller of an API Gateway HTTP API (v2) event, or UnauthenticatedError."""
    claims = _authorizer_claims(event)
    if claims is not None:
        return caller_from_claims(claims)
    settings = get_settings()
    if not settings.self_verify_jwt:
        raise UnauthenticatedError("no verified identity on this request")
    token = _bearer_token(event)
    if token is None:
        raise UnauthenticatedError("missing bearer token")
    from functions.common.jwt_verify import verify_access_token

    return caller_from_claims(verify_access_token(token, settings))
