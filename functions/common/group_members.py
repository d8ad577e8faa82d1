"""The group-members projection: one DynamoDB Streams record of the mirror table → the membership
writes it implies in the group-members table (models/group_members.py).

The record's old and new images are read by the record contract's codec
(`cognito_mirror.record.row_from_item`); a live row's groups are known only with
`groups_observed_at` (unknown counts as no group known). From old groups to new groups:

- a live row with known groups whose `groups_observed_at` is new (the membership observed again by
  the sync or a reconcile, or for the first time after a trigger, a read-through, an older version
  or a revive left it unknown): every group the user is in is written `member: true` and every
  group they left `member: false` (with a TTL), at that version; so the projection heals itself (an
  item lost, a record sent to the DLQ) at the next observation, one write per group. A profile
  write (that version unchanged) writes nothing;
- a tombstone, or a REMOVE of the item: every group the old image held is removed, at a version
  above the old membership's (the tombstone's `observed_at` when it is later);
- a live row whose groups are unknown now: nothing is known, nothing is written (the mirror never
  forgets a membership it observed; a listing's row check hides such a user anyway);
- reserved rows (`#...`) are never users: skipped before any other field is read.

Every write is guarded by the version (models/group_members.py), so a replayed or older record
never undoes a newer one and the stream's retries are idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cognito_mirror.group_members import valid_group
from cognito_mirror.record import GROUPS, GROUPS_OBSERVED_AT
from functions.common.observability import count_metric, logger
from functions.common.user_events import MalformedStreamRecordError, image_row, reserved_image, whole
from models.errors import DependencyUnavailableError
from models.group_members import GroupMembersTable
from models.guard import WriteOutcome


@dataclass(frozen=True)
class MembershipChange:
    """What one record writes: the user, the groups they are in (all of them when the membership
    was observed again, else those added) and those removed, and their version (µs)."""

    sub: str
    present: tuple[str, ...]
    removed: tuple[str, ...]
    observed_at: int


@dataclass(frozen=True)
class _Membership:
    sub: str
    live: bool
    # None: unknown (a live row without `groups_observed_at`).
    groups: frozenset[str] | None
    groups_observed_at: int | None
    observed_at: int | None


def _membership(image: Mapping[str, Any] | None) -> _Membership | None:
    row = image_row(image)
    if row is None:
        return None
    known = row[GROUPS] is not None and whole(row[GROUPS_OBSERVED_AT])
    return _Membership(
        sub=row["sub"],
        live=not row["deleted"],
        groups=frozenset(row[GROUPS]) if known else None,
        groups_observed_at=int(row[GROUPS_OBSERVED_AT]) if known else None,
        observed_at=int(row["observed_at"]) if whole(row["observed_at"]) else None,
    )


def membership_change(
    old_image: Mapping[str, Any] | None, new_image: Mapping[str, Any] | None
) -> MembershipChange | None:
    """The membership writes of one stream record (its old and new images), or None for none."""
    if reserved_image(old_image) or reserved_image(new_image):
        return None
    old, new = _membership(old_image), _membership(new_image)
    current = new or old
    if current is None:
        return None
    before = (old.groups or frozenset()) if old is not None and old.live else frozenset()
    if new is not None and new.live:
        if new.groups is None or new.groups_observed_at is None:
            return None  # nothing known of the membership now
        version = new.groups_observed_at
        if old is not None and old.live and old.groups_observed_at == version:
            return None  # a profile write: the membership was not observed again
        # Observed again (or for the first time): every group the user is in, and those they left.
        present, removed = sorted(new.groups), sorted(before - new.groups)
    else:  # a tombstone or a REMOVE: no group any more
        if not before or old is None:
            return None
        present, removed = [], sorted(before)
        version = (old.groups_observed_at or 0) + 1
        if new is not None and new.observed_at is not None:
            version = max(version, new.observed_at)
    if not (present or removed):
        return None
    return MembershipChange(current.sub, tuple(present), tuple(removed), version)


@dataclass
class ProjectionOutcome:
    """Sequence numbers of the stream records to report as failed, and counts."""

    failed: set[str] = field(default_factory=set)
    written: int = 0
    skipped: int = 0


def apply_change(change: MembershipChange, table: GroupMembersTable, outcome: ProjectionOutcome) -> None:
    """Write one record's memberships (each guarded by its version)."""
    for groups, member in ((change.present, True), (change.removed, False)):
        for group in groups:
            if not valid_group(group):
                count_metric("GroupMembersInvalidName")  # no item can be keyed by it
                continue
            result = table.put_membership(group, change.sub, member=member, observed_at=change.observed_at)
            if result is WriteOutcome.WRITTEN:
                outcome.written += 1
            else:
                outcome.skipped += 1


def project_stream_batch(records: list[dict[str, Any]], table: GroupMembersTable) -> ProjectionOutcome:
    """Project a stream batch; which records must be retried. Every record is tried: the writes are
    guarded by version, so a later record landing before a retried earlier one is safe."""
    outcome = ProjectionOutcome()
    for record in records:
        images = record.get("dynamodb") or {}
        sequence = str(images.get("SequenceNumber", ""))
        try:
            change = membership_change(images.get("OldImage"), images.get("NewImage"))
            if change is not None:
                apply_change(change, table, outcome)
        except MalformedStreamRecordError as exc:
            logger.warning(
                "group members: malformed stream record", extra={"sequence": sequence, "reason": str(exc)}
            )
            count_metric("GroupMembersMalformedRecord")
            outcome.failed.add(sequence)
        except DependencyUnavailableError as exc:
            logger.warning("group members: write failed", extra={"sequence": sequence, "error": str(exc)})
            outcome.failed.add(sequence)
        except Exception as exc:  # noqa: BLE001 - a bug fails this record only, never the batch
            # The type alone is logged: an image's values (group names, attributes) never are.
            logger.error(
                "group members: unexpected error", extra={"sequence": sequence, "error": type(exc).__name__}
            )
            count_metric("GroupMembersUnexpectedError")
            outcome.failed.add(sequence)
    count_metric("GroupMembershipWritten", outcome.written)
    count_metric("GroupMembershipSkipped", outcome.skipped)
    if outcome.failed:
        count_metric("GroupMembersFailed", len(outcome.failed))
    return outcome
