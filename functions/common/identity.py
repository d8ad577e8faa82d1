"""Who is calling: verified claims only, never a header or path the caller controls.

Claims come from the HTTP API's JWT authorizer (`requestContext.authorizer.jwt.claims`: all
strings on AWS, native JSON types under serverless-offline). Without an authorizer, and only when
JWT_ISSUER / JWT_JWKS_URL / JWT_AUDIENCE are set, the Bearer token is verified here. Either way only
the token kinds of MIRROR_ACCEPTED_TOKEN_USE (`token_use`, default `access`) identify a caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.common.errors import UnauthenticatedError
from functions.common.observability import count, logger
from models.settings import get_settings


@dataclass(frozen=True)
class Caller:
    sub: str
    username: str | None
    groups: frozenset[str]


def parse_groups(value: Any) -> frozenset[str]:
    """`cognito:groups` as a native list (serverless-offline) or API Gateway's flattening `[a b]`.

    Group names may hold commas, quotes and brackets but never whitespace, so API Gateway's string
    is split on whitespace inside its one pair of brackets and each name kept exactly as written:
    never JSON-decoded, never split on commas, never unquoted. Anything else is refused (no groups)
    and counted; the value is not logged.
    """
    if value is None or value == "" or value == "[]":
        return frozenset()
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) and item for item in value):
        return frozenset(value)
    if isinstance(value, str) and len(value) >= 2 and value[0] == "[" and value[-1] == "]":
        return frozenset(value[1:-1].split())
    count("GroupsClaimUnparsable")
    logger.warning("cognito:groups claim not understood: no groups", extra={"type": type(value).__name__})
    return frozenset()


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
    """The caller named by verified claims: the one place that decides which tokens are accepted."""
    token_use = claims.get("token_use")
    if not isinstance(token_use, str) or token_use not in get_settings().accepted_token_use:
        raise UnauthenticatedError("this kind of token is not accepted")
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
    from functions.common.jwt_verify import verify_token

    return caller_from_claims(verify_token(token, settings))
