"""Each entry point's settings: typed, validated at cold start, one line naming a bad variable.

    entry point                                  settings                 needs beyond models' Settings
    api                                          the reader (MirrorReader)  the reader's variables
    post_confirmation, post_authentication       Settings                 nothing
    attribute_sync, repair_user                  PoolSettings             USER_POOL_ID
    user_events                                  EventSettings            MIRROR_EVENT_BUS
    group_members                                GroupMembersTable        MIRROR_GROUP_MEMBERS_TABLE
    reconcile                                    ReconcileSettings        USER_POOL_ID, MIRROR_RECONCILE_*

Every handler module calls `check_at_cold_start` when Lambda imports it: a bad or missing value is
logged once, as one line naming the variable and what it allows, before any request. Importing never
fails (an init error would break a Cognito trigger's sign-in and turn the API's JSON 500 into a bare
502); each invocation then meets the same ConfigurationError: the API answers 500 "Service
misconfigured", a trigger writes nothing and returns the event unchanged, the batch handlers fail the
invocation so the whole batch is retried once the setting is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cognito_mirror import ConfigurationError
from cognito_mirror.config import env, env_choice, env_float, env_int
from functions.common.observability import logger
from models.settings import Settings, get_settings

if TYPE_CHECKING:  # the engine's options: imported by reconcile only, not by every handler
    from functions.common.backfill.options import WriteMode

# Bounds of the scheduled reconcile's knobs (docs/CONFIGURATION.md).
RECONCILE_MARGIN_MS = (1_000, 900_000)  # at most Lambda's 15-minute ceiling
RECONCILE_SEGMENTS = ("1", "16", "256")  # sub-prefix partitions of the listing, as the CLI's --segments
RECONCILE_MAX_RPS = (0.1, 30.0)  # ListUsers calls per second; 30 is the account's quota
RECONCILE_WORKERS = (1, 64)


@dataclass(frozen=True)
class PoolSettings:
    """attribute_sync and repair_user: the mirror's settings and the pool they read users from."""

    mirror: Settings
    user_pool_id: str


@dataclass(frozen=True)
class EventSettings:
    """user_events: the bus user change events go to, and how much each carries."""

    mirror: Settings
    event_bus: str
    event_payload: str


@dataclass(frozen=True)
class ReconcileSettings:
    """reconcile: the pool, and the knobs of one scheduled run."""

    user_pool_id: str
    # Stop listing this long before the Lambda's deadline: the prune scan and the state save need it.
    margin_ms: int
    segments: int
    max_rps: float
    workers: int
    write_mode: WriteMode
    workdir: str


def pool_settings(needed_by: str) -> PoolSettings:
    """The mirror's settings with USER_POOL_ID required (`needed_by` names who needs it)."""
    mirror = get_settings()
    if mirror.user_pool_id is None:
        raise ConfigurationError(f"USER_POOL_ID is not set: {needed_by} needs the user pool")
    return PoolSettings(mirror=mirror, user_pool_id=mirror.user_pool_id)


def event_settings() -> EventSettings:
    mirror = get_settings()
    if mirror.event_bus is None:
        raise ConfigurationError("MIRROR_EVENT_BUS is not set: name the bus user events go to")
    return EventSettings(mirror=mirror, event_bus=mirror.event_bus, event_payload=mirror.event_payload)


def reconcile_settings() -> ReconcileSettings:
    from functions.common.backfill.options import WriteMode

    pool = pool_settings("reconcile").user_pool_id
    margin_low, margin_high = RECONCILE_MARGIN_MS
    rps_low, rps_high = RECONCILE_MAX_RPS
    workers_low, workers_high = RECONCILE_WORKERS
    modes = tuple(mode.value for mode in WriteMode)
    return ReconcileSettings(
        user_pool_id=pool,
        margin_ms=env_int("MIRROR_RECONCILE_MARGIN_MS", 60_000, minimum=margin_low, maximum=margin_high),
        segments=int(env_choice("MIRROR_RECONCILE_SEGMENTS", "16", RECONCILE_SEGMENTS)),
        max_rps=env_float("MIRROR_RECONCILE_MAX_RPS", 10.0, minimum=rps_low, maximum=rps_high),
        workers=env_int("MIRROR_RECONCILE_WORKERS", 16, minimum=workers_low, maximum=workers_high),
        write_mode=WriteMode(env_choice("MIRROR_RECONCILE_WRITE_MODE", "partiql", modes)),
        workdir=env("MIRROR_RECONCILE_WORKDIR") or "/tmp",  # noqa: S108 - Lambda's only disk
    )


def check_at_cold_start(entry_point: str, load: Callable[[], object]) -> bool:
    """Load an entry point's settings once at import; log a bad one as one line. Never raises."""
    try:
        load()
    except ConfigurationError as exc:
        logger.error(
            "configuration error: fix the setting and redeploy",
            extra={"entry_point": entry_point, "error": exc.detail},
        )
        return False
    return True
