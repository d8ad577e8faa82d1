"""Who is calling: verified claims only, never a header or path the caller controls."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from cognito_mirror._config import TOKEN_USES
from cognito_mirror._errors import ConfigurationError, UnauthenticatedError

log = logging.getLogger("cognito_mirror.identity")

# How an answer names each kind of token that may identify a caller (`TOKEN_USES`).
_KIND_NAMES = {"access": "access", "id": "ID"}

# Callers already built from the same claim values (a warm container sees the same few callers again
# and again); a pure function of those values, bounded, emptied when full.
_CALLERS: dict[tuple[Any, ...], Caller] = {}
_CALLERS_MAX = 1024
_COGNITO_USERNAME = "cognito:username"
_ABSENT = object()


@dataclass(frozen=True)
class Caller:
    sub: str
    username: str | None
    groups: frozenset[str]


def parse_groups(value: Any, unparsable: Callable[[], None] | None = None) -> frozenset[str]:
    """`cognito:groups` as a native list (exact names) or API Gateway's flattening `[a b c]`.

    Group names never hold whitespace, so the flattened string is split on whitespace inside its one
    pair of brackets, each name kept exactly: never JSON-decoded, never split on commas. Anything
    else means no groups (the value is not logged; `unparsable` is called, to count it).
    """
    if value is None or value == "" or value == "[]":
        return frozenset()
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) and item for item in value):
        return frozenset(value)
    if _flattened(value):
        return frozenset(value[1:-1].split())
    log.warning("cognito:groups claim not understood: no groups (type %s)", type(value).__name__)
    if unparsable is not None:
        unparsable()
    return frozenset()


def _flattened(value: Any) -> bool:
    """API Gateway's flattening of a list claim: one string inside one pair of brackets."""
    return isinstance(value, str) and len(value) >= 2 and value[0] == "[" and value[-1] == "]"


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    # `type(...) is dict` first: the ABC check costs several times more, and events are plain dicts.
    return type(value) is dict or isinstance(value, Mapping)


def raw_event(event: Any) -> Mapping[str, Any]:
    """The event dict, whether given as a dict or a Powertools event data class."""
    raw = event if type(event) is dict else getattr(event, "raw_event", event)
    if not _is_mapping(raw):
        raise UnauthenticatedError("not an HTTP API event")
    return raw


def authorizer_claims(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if _is_mapping(context) else None
    jwt = authorizer.get("jwt") if _is_mapping(authorizer) else None
    claims = jwt.get("claims") if _is_mapping(jwt) else None
    return claims if claims and _is_mapping(claims) else None


def bearer_token(event: Mapping[str, Any]) -> str | None:
    headers = event.get("headers")
    if not isinstance(headers, Mapping):
        return None
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def token_verifier(config: Any) -> Any:
    """A `_jwt.TokenVerifier` for `config` (a JwtConfig); ConfigurationError without the jwt extra."""
    try:
        from cognito_mirror._jwt import TokenVerifier
    except ImportError as exc:
        raise ConfigurationError(
            'JWT verification needs the extra: pip install "cognito-attribute-mirror[jwt]"'
        ) from exc
    return TokenVerifier(config)


def token_kind_refused(token_use: str, accepted_token_use: frozenset[str]) -> UnauthenticatedError:
    """A 401 that says which token kind was sent, which ones count, and the setting that decides it
    (in the body and in RFC 6750's `WWW-Authenticate` error_description)."""
    accepted = " or ".join(_KIND_NAMES[kind] for kind in sorted(accepted_token_use))
    description = (
        f"An {_KIND_NAMES[token_use]} token was sent: only {accepted} tokens are accepted "
        "(setting MIRROR_ACCEPTED_TOKEN_USE)"
    )
    return UnauthenticatedError(
        f"{token_use} token refused",
        message=description,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'},
    )


def caller_from_claims(
    claims: Mapping[str, Any],
    accepted_token_use: frozenset[str],
    unparsable_groups: Callable[[], None] | None = None,
) -> Caller:
    """The caller named by verified claims: the one place that decides which token kinds count.

    A caller built once is reused for the same claim values (never for groups that do not parse,
    which are reported each time)."""
    groups = claims.get("cognito:groups")
    key = None
    if groups is None or groups == "" or _flattened(groups):
        get = claims.get
        key = (
            accepted_token_use,
            groups,
            get("token_use"),
            get("sub"),
            get("username", _ABSENT),  # a null username is not a missing one
            get(_COGNITO_USERNAME),
        )
        try:
            return _CALLERS[key]
        except KeyError:
            pass
        except TypeError:  # a claim value that cannot be a key (a list): build it every time
            key = None
    caller = _caller(claims, accepted_token_use, groups, unparsable_groups)
    if key is not None:
        if len(_CALLERS) >= _CALLERS_MAX:
            _CALLERS.clear()
        _CALLERS[key] = caller
    return caller


def _caller(
    claims: Mapping[str, Any],
    accepted_token_use: frozenset[str],
    groups: Any,
    unparsable_groups: Callable[[], None] | None,
) -> Caller:
    token_use = claims.get("token_use")
    if isinstance(token_use, str) and token_use in TOKEN_USES and token_use not in accepted_token_use:
        raise token_kind_refused(token_use, accepted_token_use)
    if not isinstance(token_use, str) or token_use not in accepted_token_use:
        raise UnauthenticatedError("this kind of token is not accepted")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise UnauthenticatedError("the token has no subject")
    username = claims.get("username", claims.get(_COGNITO_USERNAME))
    return Caller(
        sub=sub.strip(),
        username=username if isinstance(username, str) and username else None,
        groups=parse_groups(groups, unparsable_groups),
    )
