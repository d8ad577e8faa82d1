"""Repair one missing mirror row: read the user from Cognito, store it, answer its profile.

The API's reader calls it in-process on a miss (a `cognito_mirror` Repair, the pool bound by
functions/common/reader.py); the repair Lambda (functions/repair_user.py) wraps it for readers in
other services, which have no Cognito permissions and no write access.

The write side (the Cognito adapter, the table's write path, PynamoDB) is imported on the first
repair: the API's reader is built with this module, and a container whose reads all hit the mirror
never loads it.
"""

from __future__ import annotations

from cognito_mirror import Profile
from functions.common.errors import CognitoUnavailableError
from functions.common.observability import count_metric, logger, mirror_freshness
from models.errors import TableUnavailableError

SOURCE = "read_through"


def repair_user(sub: str, username: str | None, *, user_pool_id: str) -> Profile | None:
    """`sub`'s profile read from Cognito (by username when given: its sub must match) and stored
    through the guarded write; None when Cognito has no such user. CognitoUnavailableError when
    Cognito fails; a failed mirror write still answers the profile (sync and reconcile write it)."""
    from functions.common.cognito import read_user
    from models.guard import WriteOutcome
    from models.table import mirror_table

    try:
        # Usernames are unique among live users: a caller's username that resolves to another sub means
        # their user is gone (no ListUsers search, the scarcer quota). Only a request by sub searches.
        snapshot = read_user(
            user_pool_id=user_pool_id, source=SOURCE, username=username, sub=sub, interactive=True
        )
    except CognitoUnavailableError:
        logger.error("repair: Cognito unavailable", extra={"sub": sub})
        count_metric("RepairCognitoFailed")
        raise
    if snapshot is None:
        count_metric("RepairNotFound")
        return None
    try:
        outcome = mirror_table().put_snapshot(snapshot)
        if outcome is WriteOutcome.WRITTEN:
            mirror_freshness.landed(snapshot.observed_at, SOURCE)  # read from Cognito -> landed
        logger.info("repair", extra={"sub": sub, "outcome": outcome.value})
    except TableUnavailableError:
        logger.error("repair: mirror write failed", extra={"sub": sub})
        count_metric("MirrorWriteFailed")
    count_metric("RepairFound")
    return Profile.from_row(snapshot.row())
