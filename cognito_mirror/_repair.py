"""Repair on a miss: the answer of the mirror's repair logic, as a callable or the repair Lambda.

Either answers `{"found": true, "profile": {...}}`, `{"found": false}` or `{"error": "..."}`;
anything else, or a profile of another user, is the repair failing (503), never a wrong profile.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from cognito_mirror._aws import error_code
from cognito_mirror._errors import MirrorUnavailableError
from cognito_mirror._profile import Profile

# A repair callable takes {"sub", "username"} and answers like the repair function.
RepairCallable = Callable[[dict[str, Any]], Mapping[str, Any]]


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


def repaired_profile(answer: Any, sub: str) -> Profile | None:
    """The profile a repair answered for `sub`, None when Cognito has no such user."""
    if not isinstance(answer, Mapping) or "error" in answer:
        raise MirrorUnavailableError("the repair function failed")
    if answer.get("found") is not True:
        return None
    profile = answer.get("profile")
    try:
        repaired = Profile.from_dict(profile if isinstance(profile, Mapping) else {})
    except ValueError as exc:
        raise MirrorUnavailableError("the repair function answered an unreadable profile") from exc
    if repaired.sub != sub:
        raise MirrorUnavailableError("the repair function answered another user")
    return repaired
