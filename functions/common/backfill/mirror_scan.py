"""The mirror side of a run, after every segment was listed: orphans and directory index keys.

A parallel Scan checks each live row against the set of listed subs (kept in the checkpoint, so
memory stays flat). An unlisted row is an orphan; with prune, each one is confirmed with Cognito
(AdminGetUser by its username, same sub) before a tombstone. Index check (verify, reindex): each
live row's user-directory keys are compared with the ones its stored attributes give under the
current MIRROR_INDEXED_ATTRIBUTES ("misindexed"); reindex rewrites only those keys
(`put_index_keys`), guarded on the row's own observed_at, so a newer write in between wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from functions.common.backfill.checkpoint import Checkpoint
from functions.common.backfill.confirm import UserConfirmer
from functions.common.backfill.options import Mode, Options
from functions.common.backfill.summary import Tally
from models.guard import WriteOutcome
from models.record import MirrorRecord
from models.table import BATCH_GET_MAX, MirrorTable
from models.user import now_us


@dataclass
class MirrorScanner:
    """The run's Scan of the mirror: `stopping` asks whether the run is being stopped."""

    options: Options
    checkpoint: Checkpoint
    confirmer: UserConfirmer
    table: MirrorTable
    stopping: Callable[[], bool] = field(kw_only=True)

    def scan_segment(self, segment: int) -> bool:
        """Check one Scan segment to its end (True), or stop early (False)."""
        if self.checkpoint.scan_done(segment):
            return True
        checks_index = self.options.checks_index
        batch: list[MirrorRecord] = []
        tally: Tally = {"misindexed": 0, "reindexed": 0, "skipped": 0}
        for row in self.table.scan_records(segment, self.options.scan_segments, with_index=checks_index):
            if self.stopping():
                return False
            if not row.is_tombstone:
                batch.append(row)
                if checks_index:
                    self.check_index(row, tally)
            if len(batch) >= BATCH_GET_MAX:
                self.orphans(batch)
                batch = []
        self.orphans(batch)
        self.checkpoint.mark_scanned(segment, tally)
        return True

    def check_index(self, row: MirrorRecord, tally: Tally) -> None:
        """Count a live row whose directory keys are not what its attributes give; with reindex
        (fill mode), rewrite them for the very observation the row holds."""
        attributes = row.attributes.as_dict() if row.attributes else {}
        expected = self.table.expected_index_keys(row.sub, attributes)
        if expected == row.stored_index_keys():
            return
        tally["misindexed"] += 1
        if self.options.reindex and self.options.writes:
            outcome = self.table.put_index_keys(row.sub, observed_at=int(row.observed_at), keys=expected)
            # SKIPPED: a newer write (with its own keys) or a deletion got there first.
            tally["reindexed" if outcome is WriteOutcome.WRITTEN else "skipped"] += 1

    def orphans(self, rows: list[MirrorRecord]) -> None:
        """Record the rows no segment listed; with prune, tombstone those Cognito confirms gone."""
        unlisted = set(self.checkpoint.unlisted([row.sub for row in rows]))
        candidates = [row for row in rows if row.sub in unlisted]
        if not candidates:
            return
        if not (self.options.prune and self.options.mode is not Mode.VERIFY):
            self.checkpoint.add_subs("orphans", (row.sub for row in candidates))
            return
        for row in candidates:
            if not self.confirmer.is_gone(row.username or None, row.sub):
                continue  # created after its segment was listed: not an orphan
            self.checkpoint.add_subs("orphans", [row.sub])
            if self.options.writes:
                outcome = self.table.put_tombstone(row.sub, observed_at=now_us(), source=self.options.source)
                if outcome is WriteOutcome.WRITTEN:
                    self.checkpoint.add_subs("pruned", [row.sub])
