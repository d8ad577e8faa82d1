"""What one backfill or reconcile run is asked to do (Options) and the modes it can run in."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from functions.common.retry import RetryPolicy


class Mode(enum.Enum):
    FILL = "fill"
    DRY_RUN = "dry-run"
    VERIFY = "verify"


class WriteMode(enum.Enum):
    PARTIQL = "partiql"  # BatchExecuteStatement, 25 conditional statements per call
    PUT = "put"  # one conditional write per user (put_snapshot)


@dataclass
class Options:
    user_pool_id: str
    mode: Mode = Mode.FILL
    prune: bool = False
    # Rewrite directory index keys that do not match MIRROR_INDEXED_ATTRIBUTES (after listing).
    reindex: bool = False
    segments: int = 16
    max_rps: float = 20.0
    workers: int = 16
    write_mode: WriteMode = WriteMode.PARTIQL
    source: str = "backfill"
    max_attempts: int = 8
    # Throttling is the shared quota asking for patience, not a failure: far more retries.
    max_throttle_retries: int = 40
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    scan_segments: int = 4
    # List every user's groups (ListGroups + ListUsersInGroup) and mirror them with the profile.
    groups: bool = True

    def identity(self, table: str) -> dict[str, Any]:
        """What a checkpoint of a run on the mirror table `table` must match to be resumed."""
        identity: dict[str, Any] = {
            "user_pool_id": self.user_pool_id,
            "table": table,
            "mode": self.mode.value,
            "prune": self.prune,
            "segments": self.segments,
        }
        if self.reindex:
            identity["reindex"] = True
        if not self.groups:
            identity["groups"] = False
        return identity

    @property
    def writes(self) -> bool:
        return self.mode is Mode.FILL

    @property
    def checks_index(self) -> bool:
        """The mirror scan compares each row's directory keys (verify, reindex)."""
        return self.reindex or self.mode is Mode.VERIFY

    def listing_retries(self) -> RetryPolicy:
        return RetryPolicy(
            max_throttle_retries=self.max_throttle_retries,
            max_failed_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
        )

    def confirming_retries(self) -> RetryPolicy:
        """AdminGetUser while confirming: `max_attempts` calls in all, throttled or not."""
        return RetryPolicy(
            max_throttle_retries=self.max_attempts - 1,
            max_failed_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
        )
