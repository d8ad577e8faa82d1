"""Reading users (and their group membership) from Cognito: lazily created, bounded clients, at
most two per Lambda process.

Only the paths that need Cognito (read-through, sync, reconcile, backfill) create a client, so the
hot `GET /me` path never pays for it. Two profiles, each a setting (models/settings.py):
- interactive (read-through inside an API request; `MIRROR_COGNITO_*`): by default 0.5 s connect,
  1 s read, one attempt, so a hung Cognito costs a caller at most ~1.5 s per call before a clear 503;
- batch (sync, reconcile, backfill; `MIRROR_COGNITO_BATCH_*`): by default 1 s connect, 3 s read,
  3 attempts; their callers retry too (SQS redelivery, the engine's backoff), but a slow answer is
  better than a failed record.
Every Cognito client comes from `new_cognito_client(settings, ...)`: the settings' region, and the
botocore session of their AWS profile (models/aws.py), as the table's DynamoDB clients. Lambda code
uses the process's clients (`cognito_client`, from `get_settings()`); the engine builds its own from
the settings it was given (an admin CLI's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from cognito_mirror.record import valid_sub
from functions.common.errors import CognitoThrottledError, CognitoUnavailableError
from models.aws import bounded_config, create_client
from models.errors import error_code
from models.settings import Settings, get_settings
from models.user import UserSnapshot, now_us, snapshot_from_cognito_user

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

T = TypeVar("T")
THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "LimitExceededException"})


def cognito_client(interactive: bool = False) -> CognitoIdentityProviderClient:
    """The process's client of one profile (interactive or batch), created on first use."""
    return _process_client(bool(interactive))


@cache
def _process_client(interactive: bool) -> CognitoIdentityProviderClient:
    settings = get_settings()
    return new_cognito_client(settings, bounds_config(settings, interactive=interactive))


def bounds_config(settings: Settings, *, interactive: bool) -> Config:
    """A client config with the settings' bounds of one profile (interactive or batch)."""
    return bounded_config(settings.cognito_interactive if interactive else settings.cognito_batch)


def new_cognito_client(settings: Settings, config: Config) -> CognitoIdentityProviderClient:
    """A Cognito client in the settings' region, from the botocore session of their AWS profile."""
    client: CognitoIdentityProviderClient = create_client(
        "cognito-idp",
        region=settings.region,
        config=config,
        profile=settings.aws_profile,
        instance_metadata=settings.instance_metadata,
    )
    return client


def _classify(exc: Exception) -> Exception:
    code = error_code(exc)
    if code in THROTTLE_CODES:
        return CognitoThrottledError(f"Cognito throttled: {code}")
    return CognitoUnavailableError(f"Cognito call failed: {code}")


def _answer(call: Callable[[], T], *, missing: str) -> T | None:
    """`call()`; None when Cognito answers `missing` (what was asked for does not exist). Any other
    failure is a CognitoThrottledError or CognitoUnavailableError (the record or request is retried)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except ClientError as exc:
        if error_code(exc) == missing:
            return None
        raise _classify(exc) from exc
    except BotoCoreError as exc:
        raise CognitoUnavailableError(f"Cognito unreachable: {type(exc).__name__}") from exc


def read_user(
    *,
    user_pool_id: str,
    source: str,
    username: str | None = None,
    sub: str | None = None,
    interactive: bool = False,
    settings: Settings | None = None,
    client: CognitoIdentityProviderClient | None = None,
) -> UserSnapshot | None:
    """Current snapshot of a user by username (AdminGetUser) or sub (ListUsers filter).

    Returns None when Cognito says the user does not exist. When both are given, a username
    whose user has another sub is treated as not found (never return another user's data).
    `settings` and `client` default to the process's (Lambda); the engine passes its own.
    """
    cognito = client or cognito_client(interactive=interactive)
    allowlist = (settings or get_settings()).mirror_attributes

    def read() -> UserSnapshot | None:
        if username:
            observed = now_us()
            response: Any = cognito.admin_get_user(UserPoolId=user_pool_id, Username=username)
            snapshot = snapshot_from_cognito_user(
                response, allowlist=allowlist, source=source, observed_at=observed
            )
            return None if sub is not None and snapshot.sub != sub else snapshot
        if sub is None or not valid_sub(sub):
            return None
        observed = now_us()
        listed = cognito.list_users(UserPoolId=user_pool_id, Filter=f'sub = "{sub}"', Limit=1)
        for user in listed.get("Users", []):
            snapshot = snapshot_from_cognito_user(
                user, allowlist=allowlist, source=source, observed_at=observed
            )
            if snapshot.sub == sub:
                return snapshot
        return None

    return _answer(read, missing="UserNotFoundException")


# --- group membership (the sync: docs/SYNC.md) ----------------------------------------------------
# Cognito's largest page of AdminListGroupsForUser.
GROUPS_PAGE = 60


@dataclass(frozen=True)
class Membership:
    """A user's group names as Cognito answered, and when (integer µs, just before the first call)."""

    groups: tuple[str, ...]
    observed_at: int


def read_groups(
    *, user_pool_id: str, username: str, client: CognitoIdentityProviderClient | None = None
) -> Membership | None:
    """Every group of the user `username` names (AdminListGroupsForUser, every page), or None when
    Cognito says there is no such user."""
    cognito = client or cognito_client()

    def read() -> Membership:
        observed = now_us()
        groups: list[str] = []
        kwargs: dict[str, Any] = {"UserPoolId": user_pool_id, "Username": username, "Limit": GROUPS_PAGE}
        while True:
            page: Any = cognito.admin_list_groups_for_user(**kwargs)
            groups += [group["GroupName"] for group in page.get("Groups", [])]
            if not page.get("NextToken"):
                return Membership(tuple(sorted(set(groups))), observed)
            kwargs["NextToken"] = page["NextToken"]

    return _answer(read, missing="UserNotFoundException")


def group_exists(
    *, user_pool_id: str, group: str, client: CognitoIdentityProviderClient | None = None
) -> bool:
    """Whether the pool has a group of that name now (GetGroup)."""
    cognito = client or cognito_client()
    found = _answer(
        lambda: cognito.get_group(UserPoolId=user_pool_id, GroupName=group),
        missing="ResourceNotFoundException",
    )
    return found is not None
