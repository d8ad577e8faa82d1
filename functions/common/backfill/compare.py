"""Compare one listed page with the mirror and repair it.

Each page's subs are read with one BatchGetItem and classified as missing / stale / unchanged /
skipped (the mirror is newer) / tombstoned (Cognito lists a sub the mirror holds as deleted: a
wrong tombstone). In fill mode only missing and stale users are written, through the guarded write
path (`put_snapshots`, PartiQL with per-statement conditions; or `put_snapshot` per user): a newer
row is never overwritten. A wrong tombstone is revived only after AdminGetUser confirms the user.

With the pool's memberships (`membership.Memberships`), each live row's groups are compared too:
`groups_unknown` (never observed), `groups_stale` (other groups, observed earlier) or in sync; a row
whose membership was observed at or after the listing's is left alone. A membership to write rides
in its user's snapshot statement when the profile is written too (one write per user; a missing
row is created with it), else it is written alone (`put_memberships`). A stale profile whose
membership the sync already wrote more recently is written without it: it is never held back by it.
"""

from __future__ import annotations

from functions.common.backfill.confirm import UserConfirmer
from functions.common.backfill.membership import Memberships
from functions.common.backfill.options import Options, WriteMode
from functions.common.backfill.summary import Tally
from functions.common.observability import logger, mirror_freshness
from models.errors import DependencyUnavailableError, TableUnavailableError
from models.guard import WriteOutcome
from models.partiql import Membership
from models.record import MirrorRecord
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


def classify_groups(membership: Membership, row: MirrorRecord | None) -> str | None:
    """The counter a listed user's membership falls under, given its mirror row: `groups_unknown`,
    `groups_stale`, or None when there is nothing to write (no live row, in sync, or newer)."""
    if row is None or row.is_tombstone:
        return None
    if row.groups_observed_at is None:
        return "groups_unknown"
    if int(row.groups_observed_at) >= membership.observed_at:
        return None  # observed as late or later (the sync): it stands
    return None if set(row.groups or ()) == set(membership.groups) else "groups_stale"


class PageRepairer:
    def __init__(self, options: Options, confirmer: UserConfirmer, table: MirrorTable) -> None:
        self.options = options
        self._confirmer = confirmer
        self.table = table

    def repair(
        self, snapshots: list[UserSnapshot], tally: Tally, memberships: Memberships | None = None
    ) -> list[str]:
        """Compare a page with the mirror and repair it; return the subs that failed. Without
        `memberships` (--no-groups) the rows' groups are left as they are."""
        try:
            rows = self.table.get_records([s.sub for s in snapshots]) if snapshots else {}
        except TableUnavailableError:
            tally["failed"] += len(snapshots)
            return [s.sub for s in snapshots]
        to_write: list[UserSnapshot] = []
        tombstoned: list[UserSnapshot] = []
        missing: set[str] = set()
        groups: dict[str, Membership] = {}  # memberships to write, by sub
        for snapshot in snapshots:
            row = rows.get(snapshot.sub)
            kind = classify(snapshot, row)
            tally[kind] += 1
            if kind in ("missing", "stale"):
                to_write.append(snapshot)
            if kind == "missing":
                missing.add(snapshot.sub)
            elif kind == "tombstoned":
                tombstoned.append(snapshot)
            if memberships is not None:
                membership = memberships.of(snapshot.sub)
                drift = classify_groups(membership, row)
                if drift is not None:
                    tally[drift] += 1
                if drift is not None or kind == "missing":
                    groups[snapshot.sub] = membership
        if not self.options.writes:
            return []
        failed = [s.sub for s in tombstoned if not self._revive(s, tally)]
        return failed + self._write(to_write, missing, groups, tally)

    def _write(
        self, to_write: list[UserSnapshot], missing: set[str], groups: dict[str, Membership], tally: Tally
    ) -> list[str]:
        """Write missing and stale users, and the memberships in `groups`; return the subs whose
        write failed. A statement carrying both that did not land (a trigger created the row, or the
        sync wrote a newer membership, since the page was read) is retried as two, each under its
        own guard: the profile alone, the membership alone."""
        failed: list[str] = []
        partiql = self.options.write_mode is WriteMode.PARTIQL
        combined = {s.sub: groups[s.sub] for s in to_write if s.sub in groups} if partiql else {}
        outcomes = self._outcomes(to_write, missing, combined)
        retry = [
            s
            for s, o in zip(to_write, outcomes, strict=True)
            if s.sub in combined and o is WriteOutcome.SKIPPED
        ]
        again = dict(zip([s.sub for s in retry], self._outcomes(retry, set(), {}), strict=True))
        for snapshot, outcome in zip(to_write, outcomes, strict=True):
            outcome = again.get(snapshot.sub, outcome)
            if outcome is None:
                failed.append(snapshot.sub)
                tally["failed"] += 1
            elif outcome is WriteOutcome.WRITTEN:
                tally["written"] += 1
                mirror_freshness.landed(snapshot.observed_at, self.options.source)  # listed -> landed
                tally["groups_written"] += snapshot.sub in combined and snapshot.sub not in again
            else:
                tally["skipped"] += 1
        # A user whose profile write failed is failed once: its membership waits for the re-run.
        alone = [
            (sub, membership)
            for sub, membership in groups.items()
            if (sub not in combined or sub in again) and sub not in failed
        ]
        for (sub, _), outcome in zip(alone, self._membership_outcomes(alone), strict=True):
            if outcome is None:
                failed.append(sub)
                tally["failed"] += 1
            else:
                tally["groups_written"] += outcome is WriteOutcome.WRITTEN
        return failed

    def _outcomes(
        self, to_write: list[UserSnapshot], missing: set[str], groups: dict[str, Membership]
    ) -> list[WriteOutcome | None]:
        """Outcome per snapshot (with its membership in `groups`, if any: PartiQL only); None where
        the write failed (DynamoDB refused or was unreachable)."""
        if not to_write:
            return []
        if self.options.write_mode is WriteMode.PARTIQL:
            try:
                return list(self.table.put_snapshots(to_write, missing=missing, memberships=groups))
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

    def _membership_outcomes(self, alone: list[tuple[str, Membership]]) -> list[WriteOutcome | None]:
        """Outcome per membership written alone; None where the write failed."""
        if not alone:
            return []
        if self.options.write_mode is WriteMode.PARTIQL:
            try:
                return list(self.table.put_memberships(alone))
            except TableUnavailableError as exc:
                logger.warning("batch write failed", extra={"users": len(alone), "error": str(exc)})
                return [None] * len(alone)
        outcomes: list[WriteOutcome | None] = []
        for sub, membership in alone:
            try:
                outcomes.append(self._put_groups(sub, membership))
            except TableUnavailableError as exc:
                logger.warning("write failed", extra={"sub": sub, "error": str(exc)})
                outcomes.append(None)
        return outcomes

    def _put_groups(self, sub: str, membership: Membership) -> WriteOutcome:
        return self.table.put_groups(
            sub, membership.groups, observed_at=membership.observed_at, source=self.options.source
        )

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
