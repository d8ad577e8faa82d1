"""Repair on a miss: a typed call in-process (`Repair`), or the mirror's repair Lambda by name.

The Lambda answers `{"found": true, "profile": {...}}`, `{"found": false}` or `{"error": "..."}`;
anything else is the repair failing (503). The reader refuses a profile of another user from either
(503): never a wrong profile.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from cognito_mirror._aws import error_code
from cognito_mirror._errors import MirrorUnavailableError
from cognito_mirror.record import Profile


class Repair(Protocol):
    """Heal a miss in-process: the user's profile read from Cognito (and stored in the mirror), None
    when Cognito has no such user. When Cognito or the mirror cannot answer it raises: the library's
    MirrorUnavailableError is the reader's 503; another error reaches the caller's handler as it is
    (the mirror's own API answers its DependencyUnavailableError as the same 503)."""

    def __call__(self, sub: str, username: str | None) -> Profile | None: ...


def invoke_repair_function(lambda_client: Callable[[], Any], function: str, payload: dict[str, Any]) -> Any:
    """The repair function's answer (RequestResponse invoke), or MirrorUnavailableError.

    `lambda_client` builds (or returns) the client: a failure to build it is the repair failing too.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = lambda_client().invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
        )
        body = response["Payload"].read()
    except (BotoCoreError, ClientError) as exc:
        raise MirrorUnavailableError(f"repair invoke failed: {error_code(exc)}") from exc
    if response.get("FunctionError"):
        raise MirrorUnavailableError("the repair function failed")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise MirrorUnavailableError("the repair function answered no JSON") from exc


def repaired_profile(answer: Any) -> Profile | None:
    """The profile the repair function answered, None when Cognito has no such user."""
    if not isinstance(answer, Mapping) or "error" in answer:
        raise MirrorUnavailableError("the repair function failed")
    if answer.get("found") is not True:
        return None
    profile = answer.get("profile")
    try:
        repaired = Profile.from_dict(profile if isinstance(profile, Mapping) else {})
    except ValueError as exc:
        raise MirrorUnavailableError("the repair function answered an unreadable profile") from exc
    return repaired
