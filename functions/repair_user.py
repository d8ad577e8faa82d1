"""Repair function: readers in other services invoke it on a mirror miss (functions/common/repair.py).

Its JSON protocol: the request {"sub", "username"}; the answer {"found": true, "profile": {GET /me
shape}}, {"found": false}, or {"error": "..."} (a malformed request, or Cognito unavailable: the
reader says 503).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cognito_mirror.record import valid_sub
from functions.common.errors import CognitoUnavailableError
from functions.common.observability import count_metric, log_metrics, logger
from functions.common.repair import repair_user
from functions.common.settings import check_at_cold_start, pool_settings

MAX_USERNAME = 128

check_at_cold_start("repair_user", lambda: pool_settings("the repair function"))


def _request(payload: Any) -> tuple[str, str | None]:
    """The (sub, username) asked for, or ValueError naming what is wrong."""
    if not isinstance(payload, Mapping):
        raise ValueError("the request must be a JSON object")
    sub, username = payload.get("sub"), payload.get("username")
    if not isinstance(sub, str) or not valid_sub(sub):
        raise ValueError("sub must be a user's sub")
    if username is not None and (not isinstance(username, str) or not 0 < len(username) <= MAX_USERNAME):
        raise ValueError("username must be a non-empty string or null")
    return sub, username


@logger.inject_lambda_context
@log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        sub, username = _request(event)
    except ValueError as exc:
        count_metric("RepairMalformedRequest")
        return {"error": str(exc)}
    try:
        profile = repair_user(sub, username, user_pool_id=pool_settings("the repair function").user_pool_id)
    except CognitoUnavailableError:
        return {"error": "Cognito unavailable"}
    return {"found": False} if profile is None else {"found": True, "profile": profile.to_dict()}
