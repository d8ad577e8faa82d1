"""What a run found and did: the counters a page or scan adds up (a tally), and the run's Summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from functions.common.backfill.options import Mode

COUNTERS = (
    "listed",
    "missing",
    "stale",
    "unchanged",
    "skipped",
    "written",
    "tombstoned",
    "revived",
    "failed",
    "throttles",
    "misindexed",
    "reindexed",
    # Membership (unless --no-groups): live rows whose groups are unknown or differ from Cognito's
    # (drift), rows whose membership was written, and the membership listing's Cognito calls.
    "groups_unknown",
    "groups_stale",
    "groups_written",
    "group_calls",
)

Tally = dict[str, int]  # counter name -> how many, for one page or one scan segment


def new_tally() -> Tally:
    return dict.fromkeys(COUNTERS, 0)


@dataclass
class Summary:
    mode: Mode = Mode.FILL
    listed: int = 0
    missing: int = 0
    stale: int = 0
    unchanged: int = 0
    skipped: int = 0
    written: int = 0
    tombstoned: int = 0
    revived: int = 0
    failed: int = 0
    throttles: int = 0
    misindexed: int = 0
    reindexed: int = 0
    groups_unknown: int = 0
    groups_stale: int = 0
    groups_written: int = 0
    group_calls: int = 0
    orphaned: int = 0
    pruned: int = 0
    failed_subs: list[str] = field(default_factory=list)
    complete: bool = False
    interrupted: bool = False
    prune_skipped: str | None = None
    elapsed: float = 0.0
    listed_this_run: int = 0
    resumed_segments: int = 0  # segments whose progress was taken from the checkpoint
    state_discarded: bool = False  # the reconcile found its stored state unreadable

    @property
    def users_per_second(self) -> float:
        return self.listed_this_run / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def drift(self) -> int:
        profiles = self.missing + self.stale + self.tombstoned + self.orphaned + self.misindexed
        return profiles + self.groups_unknown + self.groups_stale

    def set_counters(self, counters: dict[str, int]) -> None:
        for name in COUNTERS:
            setattr(self, name, counters.get(name, 0))

    def as_dict(self) -> dict[str, Any]:
        result = {name: getattr(self, name) for name in (*COUNTERS, "orphaned", "pruned", "failed_subs")}
        result.update(
            mode=self.mode.value,
            complete=self.complete,
            interrupted=self.interrupted,
            prune_skipped=self.prune_skipped,
            resumed_segments=self.resumed_segments,
            elapsed_s=round(self.elapsed, 3),
            users_per_s=round(self.users_per_second, 1),
        )
        return result
