"""The caller's mirrored profile, for any Lambda behind the HTTP API.

    from functions.profile import get_caller_profile

    def handler(event, context):
        profile = get_caller_profile(event)   # Profile(sub, username, attributes, ...)
        return {"statusCode": 200, "body": profile.attributes.get("email", "")}

The identity comes from verified claims only (see functions.common.identity). Errors:
UnauthenticatedError (401), UserDisabledError (403: the user is disabled in Cognito, though their
token is still valid), UserNotFoundError (404), ServiceUnavailableError (503), all in
functions.common.errors. The Profile is immutable (`attributes` is a read-only mapping);
`to_dict()` gives a plain copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.common.errors import UserDisabledError
from functions.common.identity import caller_from_event
from functions.common.profiles import Profile, get_profile

__all__ = ["Profile", "get_caller_profile"]


def get_caller_profile(event: Mapping[str, Any]) -> Profile:
    """One call: the verified caller of an HTTP API (v2) event and their mirrored profile."""
    caller = caller_from_event(event)
    profile = get_profile(caller.sub, username=caller.username)
    if not profile.enabled:
        raise UserDisabledError("the caller's user is disabled")
    return profile
