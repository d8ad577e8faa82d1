"""Confirming a user with Cognito before the mirror acts on it (a revive or a prune tombstone):
AdminGetUser by the username, same sub, under the run's rate limiter and backoff."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from functions.common.backfill.options import Options
from functions.common.backfill.rate_limit import RateLimiter
from functions.common.cognito import bounds_config, new_cognito_client, read_user
from functions.common.errors import CognitoThrottledError
from functions.common.retry import Transient, call_with_backoff
from models.settings import Settings
from models.user import UserSnapshot

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient


def _throttled(exc: Exception) -> Transient | None:
    return Transient.THROTTLED if isinstance(exc, CognitoThrottledError) else None


class UserConfirmer:
    def __init__(
        self, options: Options, limiter: RateLimiter, settings: Settings, *, sleep: Callable[[float], None]
    ) -> None:
        self.options = options
        self._limiter = limiter
        self._settings = settings
        self._sleep = sleep

    @cached_property
    def client(self) -> CognitoIdentityProviderClient:
        """The run's batch Cognito client (the settings' bounds), created on first use."""
        return new_cognito_client(self._settings, bounds_config(self._settings, interactive=False))

    def current_user(self, username: str | None, sub: str) -> UserSnapshot | None:
        """Cognito's user `sub` now (AdminGetUser by its username, same sub), or None. Raises
        CognitoUnavailableError when Cognito fails or keeps throttling."""
        return call_with_backoff(
            lambda: read_user(
                user_pool_id=self.options.user_pool_id,
                source=self.options.source,
                username=username,
                sub=sub,
                settings=self._settings,
                client=self.client,
            ),
            what="AdminGetUser while confirming users",
            transient=_throttled,
            policy=self.options.confirming_retries(),
            before_attempt=self._limiter.acquire,
            sleep=self._sleep,
        )

    def is_gone(self, username: str | None, sub: str) -> bool:
        """True when Cognito confirms the user no longer exists (by username, same sub)."""
        return self.current_user(username, sub) is None
