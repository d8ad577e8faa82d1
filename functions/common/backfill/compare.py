"""Compare one listed page with the mirror and repair it.

Each page's subs are read with one BatchGetItem and classified as missing / stale / unchanged /
skipped (the mirror is newer) / tombstoned (Cognito lists a sub the mirror holds as deleted: a
wrong tombstone). In fill mode only missing and stale users are written, through the guarded write
path (`put_snapshots`, PartiQL with per-statement conditions; or `put_snapshot` per user): a newer
row is never overwritten. A wrong tombstone is revived only after AdminGetUser confirms the user.
"""

from __future__ import annotations

from functions.common.backfill.confirm import UserConfirmer
from functions.common.backfill.options import Options, WriteMode
from functions.common.backfill.summary import Tally
from functions.common.observability import logger, mirror_freshness
from models.errors import DependencyUnavailableError, TableUnavailableError
from models.record import MirrorRecord, WriteOutcome
from models.table import MirrorTable
from models.user import UserSnapshot


def classify(snapshot: UserSnapshot, row: MirrorRecord | None) -> str:
    """The counter a listed user falls under, given its mirror row (None: no row)."""
    if row is None:
        return "missing"
    if row.is_tombstone:
        return "tombstoned"  # Cognito lists this sub: the tombstone is wrong (or the user left since)
    if int(row.observed_at) >= snapshot.observed_at:
        return "skipped"
    if row.to_snapshot().same_state(snapshot):
        return "unchanged"
    return "stale"


class PageRepairer:
    def __init__(self, options: Options, confirmer: UserConfirmer, table: MirrorTable) -> None:
        self.options = options
        self._confirmer = confirmer
        self.table = table

    def repair(self, snapshots: list[UserSnapshot], tally: Tally) -> list[str]:
        """Compare a page with the mirror and repair it; return the subs that failed."""
        try:
            rows = self.table.get_records([s.sub for s in snapshots]) if snapshots else {}
        except TableUnavailableError:
            tally["failed"] += len(snapshots)
            return [s.sub for s in snapshots]
        to_write: list[UserSnapshot] = []
        tombstoned: list[UserSnapshot] = []
        missing: set[str] = set()
        for snapshot in snapshots:
            kind = classify(snapshot, rows.get(snapshot.sub))
            tally[kind] += 1
            if kind in ("missing", "stale"):
                to_write.append(snapshot)
            if kind == "missing":
                missing.add(snapshot.sub)
            elif kind == "tombstoned":
                tombstoned.append(snapshot)
        if not self.options.writes:
            return []
        failed = [s.sub for s in tombstoned if not self._revive(s, tally)]
        return failed + self._write(to_write, missing, tally)

    def _write(self, to_write: list[UserSnapshot], missing: set[str], tally: Tally) -> list[str]:
        """Write missing and stale users; return the subs whose write failed."""
        if not to_write:
            return []
        failed: list[str] = []
        for snapshot, outcome in zip(to_write, self._outcomes(to_write, missing), strict=True):
            if outcome is None:
                failed.append(snapshot.sub)
                tally["failed"] += 1
            elif outcome is WriteOutcome.WRITTEN:
                tally["written"] += 1
                mirror_freshness.landed(snapshot.observed_at, self.options.source)  # listed -> landed
            else:
                tally["skipped"] += 1
        return failed

    def _outcomes(self, to_write: list[UserSnapshot], missing: set[str]) -> list[WriteOutcome | None]:
        """Outcome per snapshot; None where the write failed (DynamoDB refused or was unreachable)."""
        if self.options.write_mode is WriteMode.PARTIQL:
            try:
                return list(self.table.put_snapshots(to_write, missing=missing))
            except TableUnavailableError as exc:
                logger.warning("batch write failed", extra={"users": len(to_write), "error": str(exc)})
                return [None] * len(to_write)
        outcomes: list[WriteOutcome | None] = []
        for snapshot in to_write:
            try:
                outcomes.append(self.table.put_snapshot(snapshot))
            except TableUnavailableError as exc:
                logger.warning("write failed", extra={"sub": snapshot.sub, "error": str(exc)})
                outcomes.append(None)
        return outcomes

    def _revive(self, listed: UserSnapshot, tally: Tally) -> bool:
        """Repair a wrong tombstone once AdminGetUser confirms the sub exists; False if that failed."""
        try:
            current = self._confirmer.current_user(listed.username or None, listed.sub)
            outcome = self.table.revive_tombstone(current) if current is not None else WriteOutcome.SKIPPED
        except DependencyUnavailableError as exc:
            logger.warning("revive failed", extra={"sub": listed.sub, "error": str(exc)})
            tally["failed"] += 1
            return False
        # SKIPPED: the user left since it was listed, or a newer write got there first.
        tally["revived" if outcome is WriteOutcome.WRITTEN else "skipped"] += 1
        logger.info("tombstone of a listed user", extra={"sub": listed.sub, "outcome": outcome.value})
        return True
