"""Repair one missing mirror row on a reader's request (the `repair_user` function's logic).

Readers (the cognito_mirror library, in other services) have no Cognito permissions and no write
access: on a miss they invoke this function, which reads the user from Cognito and writes the row
through the one guarded write path. Answers: {"found": true, "profile": {GET /me shape}},
{"found": false}, or {"error": "..."} (malformed request, or Cognito unavailable: the reader says 503).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from cognito_mirror import Profile
from cognito_mirror.record import valid_sub
from functions.common.cognito import read_user
from functions.common.errors import ServiceUnavailableError
from functions.common.observability import count_metric, logger
from functions.common.settings import pool_settings
from models.errors import MirrorUnavailableError
from models.table import mirror_table

SOURCE = "read_through"
MAX_USERNAME = 128


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


def repair_user(payload: Any) -> dict[str, Any]:
    """Read `sub` from Cognito (by username when given: its sub must match), store and answer it."""
    try:
        sub, username = _request(payload)
    except ValueError as exc:
        count_metric("RepairMalformedRequest")
        return {"error": str(exc)}
    pool = pool_settings("the repair function").user_pool_id
    try:
        # Usernames are unique among live users: a caller's username that resolves to another sub means
        # their user is gone (no ListUsers search, the scarcer quota). Only a request by sub searches.
        snapshot = read_user(user_pool_id=pool, source=SOURCE, username=username, sub=sub, interactive=True)
    except ServiceUnavailableError:
        logger.error("repair: Cognito unavailable", extra={"sub": sub})
        count_metric("RepairCognitoFailed")
        return {"error": "Cognito unavailable"}
    if snapshot is None:
        count_metric("RepairNotFound")
        return {"found": False}
    try:
        outcome = mirror_table().put_snapshot(snapshot)
        logger.info("repair", extra={"sub": sub, "outcome": outcome.value})
    except MirrorUnavailableError:
        # The reader still gets the profile; sync and reconcile write the row later.
        logger.error("repair: mirror write failed", extra={"sub": sub})
        count_metric("MirrorWriteFailed")
    count_metric("RepairFound")
    return {"found": True, "profile": Profile.from_row(asdict(snapshot)).to_dict()}
