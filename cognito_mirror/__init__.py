"""Read a Cognito user's mirrored profile from your own Lambda services.

    from cognito_mirror import get_caller_profile

    def handler(event, context):
        profile = get_caller_profile(event)  # Profile: sub, username, attributes, enabled, groups, ...

In a Powertools `APIGatewayHttpResolver`, the errors answer themselves (they are `ServiceError`s);
`app.use(middlewares=[profile_middleware])` adds their headers and `caller_profile(app)` reads the
profile back. For a privileged route, `require_group(event, "admin")` checks the token's group and
then the caller's own row, read fresh (403 unless the caller is a live, enabled member whose mirrored
groups, once known, still hold it); `caller_groups(event)` gives every group held by that rule.
Configuration comes from the environment (`MirrorReader.from_env()`) unless you build your own
`MirrorReader`. The row's contract (field names, tombstones, reserved rows, the wire-format codec)
is `cognito_mirror.record`.
"""

from __future__ import annotations

from typing import Any

from cognito_mirror._config import JwtConfig
from cognito_mirror._errors import (
    AccessDeniedError,
    ConfigurationError,
    DirectoryQueryError,
    MirrorError,
    MirrorUnavailableError,
    UnauthenticatedError,
    UserDisabledError,
    UserNotFoundError,
)
from cognito_mirror._http import caller_profile, error_answer, error_response, profile_middleware
from cognito_mirror._identity import Caller
from cognito_mirror._reader import MirrorReader, default_reader
from cognito_mirror.record import Profile

__all__ = [
    "AccessDeniedError",
    "Caller",
    "ConfigurationError",
    "DirectoryQueryError",
    "JwtConfig",
    "MirrorError",
    "MirrorReader",
    "MirrorUnavailableError",
    "Profile",
    "UnauthenticatedError",
    "UserDisabledError",
    "UserNotFoundError",
    "caller_groups",
    "caller_profile",
    "default_reader",
    "error_answer",
    "error_response",
    "get_caller",
    "get_caller_profile",
    "profile_middleware",
    "require_group",
]


def get_caller_profile(event: Any) -> Profile:
    """The verified caller's mirrored profile (event: an HTTP API v2 dict or APIGatewayProxyEventV2)."""
    return default_reader().get_caller_profile(event)


def get_caller(event: Any) -> Caller:
    """The verified caller (sub, username, groups), without reading the mirror."""
    return default_reader().get_caller(event)


def require_group(event: Any, group: str) -> Profile:
    """The caller's own live profile if their token holds `group` and their mirrored user is live,
    enabled and (once the mirror knows their groups) still in it, read fresh; else AccessDeniedError
    or UserDisabledError (403)."""
    return default_reader().require_group(event, group)


def caller_groups(event: Any) -> frozenset[str]:
    """The groups the caller holds now: the token's, less those their mirrored row (read fresh) no
    longer holds; the token's alone while the mirror does not know the row's groups."""
    return default_reader().caller_groups(event)
