"""ListUsers paging by segment: the pool is partitioned by `sub ^= "<hex prefix>"` (1, 16 or 256
segments) and each segment listed page by page (60 users) under the run's one rate limiter, with
backoff on throttling (the quota is shared with the application: patience, not failure). The
membership listing (`membership`) makes its calls through the same `call`."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from functions.common.backfill.errors import CREDENTIAL_CODES, EngineError, credentials_error
from functions.common.backfill.options import Options
from functions.common.backfill.rate_limit import RateLimiter
from functions.common.backfill.summary import Tally
from functions.common.cognito import THROTTLE_CODES, new_cognito_client
from functions.common.retry import Transient, call_with_backoff
from models.aws import bounded_config
from models.errors import MalformedUserError, error_code
from models.settings import ClientBounds, Settings
from models.user import UserSnapshot, snapshot_from_cognito_user

HEX = "0123456789abcdef"
PAGE_SIZE = 60  # the maximum of ListUsers, ListGroups and ListUsersInGroup
_METHODS = {"ListUsers": "list_users", "ListGroups": "list_groups", "ListUsersInGroup": "list_users_in_group"}
SEGMENT_CHOICES = (1, 16, 256)
# One attempt: the limiter and the backoff here own retrying; a page of a large pool may be slow.
LISTING_BOUNDS = ClientBounds(connect_timeout=3, read_timeout=10, max_attempts=1)


def segment_prefixes(segments: int) -> list[str]:
    """Sub prefixes that partition a pool of UUID subs ("" = the whole pool)."""
    if segments == 1:
        return [""]
    if segments == 16:
        return list(HEX)
    if segments == 256:
        return [a + b for a in HEX for b in HEX]
    raise ValueError(f"segments must be one of {SEGMENT_CHOICES}")


class SegmentLister:
    """ListUsers pages of one pool, with the run's settings (region, profile, allowlist). A refusal
    that retrying cannot cure (credentials, no such pool) calls `on_fatal` and raises EngineError."""

    def __init__(
        self,
        options: Options,
        limiter: RateLimiter,
        settings: Settings,
        *,
        sleep: Callable[[float], None],
        on_fatal: Callable[[], None],
    ) -> None:
        self.options = options
        self._limiter = limiter
        self._sleep = sleep
        self._on_fatal = on_fatal
        self._settings = settings
        self._allowlist = settings.mirror_attributes

    @cached_property
    def client(self) -> Any:
        """A listing client without botocore retries: the limiter and backoff here own retrying."""
        config = bounded_config(LISTING_BOUNDS, pool_size=self.options.workers + 2)
        return new_cognito_client(self._settings, config)

    def list_page(self, prefix: str, token: str | None, tally: Tally) -> dict[str, Any]:
        """One page of the segment `prefix`, from `token` (None: its first page)."""
        kwargs: dict[str, Any] = {"UserPoolId": self.options.user_pool_id, "Limit": PAGE_SIZE}
        if prefix:
            kwargs["Filter"] = f'sub ^= "{prefix}"'
        if token:
            kwargs["PaginationToken"] = token
        return self.call("ListUsers", kwargs, tally)

    def call(
        self,
        operation: str,
        kwargs: dict[str, Any],
        tally: Tally,
        *,
        limiter: RateLimiter | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        """One listing call (`operation`: ListUsers, ListGroups, ListUsersInGroup) under a rate
        limiter (the run's, unless another is given) with backoff on throttling. With `missing_ok`,
        ResourceNotFoundException (a group deleted meanwhile) answers an empty page."""
        from botocore.exceptions import BotoCoreError, ClientError

        method = getattr(self.client, _METHODS[operation])

        def transient(exc: Exception) -> Transient | None:
            if isinstance(exc, ClientError) and error_code(exc) in THROTTLE_CODES:
                return Transient.THROTTLED
            if isinstance(exc, BotoCoreError) and error_code(exc) not in CREDENTIAL_CODES:
                return Transient.FAILED
            return None

        def throttled() -> None:
            tally["throttles"] += 1

        try:
            response: dict[str, Any] = call_with_backoff(
                lambda: method(**kwargs),
                what=operation,
                transient=transient,
                policy=self.options.listing_retries(),
                before_attempt=(limiter or self._limiter).acquire,
                sleep=self._sleep,
                on_throttle=throttled,
            )
        except (ClientError, BotoCoreError) as exc:
            if missing_ok and error_code(exc) == "ResourceNotFoundException":
                return {}
            raise self._fatal_error(exc, operation) from exc
        return response

    def _fatal_error(self, exc: BaseException, operation: str) -> EngineError:
        self._on_fatal()
        code = error_code(exc)
        if code == "AccessDeniedException":  # the credentials work: the role lacks this action
            return EngineError(f"not allowed to call {operation} ({code}): grant cognito-idp:{operation}")
        if code in CREDENTIAL_CODES:
            return credentials_error(code)
        if code == "ResourceNotFoundException":
            return EngineError(f"user pool {self.options.user_pool_id!r} not found ({code})")
        return EngineError(f"Cognito refused {operation} on {self.options.user_pool_id!r}: {code}")

    def snapshots(self, users: list[dict[str, Any]], observed: int) -> tuple[list[UserSnapshot], int]:
        """The page's users as snapshots, and how many were malformed (counted, never written)."""
        snapshots: list[UserSnapshot] = []
        malformed = 0
        for user in users:
            try:
                snapshots.append(
                    snapshot_from_cognito_user(
                        user, allowlist=self._allowlist, source=self.options.source, observed_at=observed
                    )
                )
            except MalformedUserError:
                malformed += 1
        return snapshots, malformed
