"""CloudTrail sync decisions: turn one "AWS API Call via CloudTrail" event into guarded mirror writes.

Parsing the record (which events count, who it names) is `functions.common.cloudtrail`.

A CloudTrail record is a signal, never data: its values can be redacted
(`HIDDEN_FOR_SECURITY_REASONS`), stale or out of order. We only take from it who the user is
(a `sub`, a username, or both), re-read that user from Cognito and write what Cognito says now,
through the one guarded write path (`models.table`). Redelivered or reordered events
therefore converge on Cognito's current state: a re-read is never older than the last one.

A tombstone is written only on evidence about that very sub: AdminGetUser on a Username that the
mirror's own row ties to the sub (Cognito's own, which never changes) either raises
UserNotFoundException, or answers a user whose own Username is that name and whose sub differs
(usernames are unique: the name was reused, so the row's user is gone). Silence is no evidence:
a ListUsers filter that finds nothing (it lags new users), a request username (forgeable, or an
alias that moved) or an alias that resolves to another user never tombstones anybody. Without
evidence the record is acknowledged and counted (`SyncDeletionUnconfirmed`); the scheduled
reconcile prunes a user that is really gone. So a tombstone always needs a mirrored row.

Group membership is read the same way: a membership call names a user, whose whole membership is
re-read (AdminListGroupsForUser) and written under its own version (`put_groups`); a DeleteGroup
names a group, which once confirmed gone leaves every member's row (`remove_group`). See
docs/SYNC.md.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from functions.common.cloudtrail import (
    API_NAME_SHAPE,
    DETAIL_TYPE,
    UserSignal,
    ignore_reason,
    parse_event,
    signal_from_detail,
)
from functions.common.cognito import Membership, group_exists, read_groups, read_user
from functions.common.observability import count_metric, loggable, logger, mirror_freshness
from models.group_members import group_members_table
from models.guard import WriteOutcome
from models.table import mirror_table
from models.user import UserSnapshot, now_us

SOURCE = "attribute_sync"
# Concurrent removals of a deleted group (within the table client's 10 connections).
REMOVAL_WORKERS = 8


@dataclass
class SyncResult:
    """What one event did to the mirror (subs only: never attribute values)."""

    ignored: str | None = None
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    tombstoned: list[str] = field(default_factory=list)
    # Subs possibly deleted (not found) for which Cognito gave no evidence: left to reconcile.
    unconfirmed: list[str] = field(default_factory=list)
    not_found: bool = False
    # Subs whose membership (groups) was written.
    memberships: list[str] = field(default_factory=list)


class SyncWrites:
    """The guarded writes of one event, counted and logged (subs and attribute names only)."""

    def __init__(self, signal: UserSignal) -> None:
        self.signal = signal
        self.result = SyncResult()
        # The user the record names, as Cognito answered just now (None: not found, or gone).
        self.named: UserSnapshot | None = None

    def snapshot(self, snapshot: UserSnapshot, *, named: bool = False) -> None:
        if named:
            self.named = snapshot
        outcome = mirror_table().put_snapshot(snapshot)
        self._done("Snapshot", snapshot.sub, outcome, attribute_names=sorted(snapshot.attributes))

    def tombstone(self, sub: str) -> None:
        self._done("Tombstone", sub, mirror_table().put_tombstone(sub, observed_at=now_us(), source=SOURCE))

    def groups(self, sub: str, membership: Membership) -> None:
        outcome = mirror_table().put_groups(
            sub, membership.groups, observed_at=membership.observed_at, source=SOURCE
        )
        self._done("Groups", sub, outcome, groups=len(membership.groups))

    def groups_removed(self, subs: list[str], group: str, observed_at: int) -> None:
        """Take `group` out of each sub's row, REMOVAL_WORKERS writes at a time (a group can have
        thousands of members; the function has 60 s); counted and logged here, in order."""
        table = mirror_table()

        def remove(sub: str) -> WriteOutcome:
            return table.remove_group(sub, group, observed_at=observed_at)

        with ThreadPoolExecutor(max_workers=REMOVAL_WORKERS, thread_name_prefix="sync-remove") as pool:
            outcomes = list(pool.map(remove, subs))
        for sub, outcome in zip(subs, outcomes, strict=True):
            self._done("GroupRemoved", sub, outcome)

    def _done(self, kind: str, sub: str, outcome: WriteOutcome, **extra: Any) -> None:
        written = outcome is WriteOutcome.WRITTEN
        landed = {"Snapshot": self.result.written, "Tombstone": self.result.tombstoned}.get(
            kind, self.result.memberships
        )
        (landed if written else self.result.unchanged).append(sub)
        if written and self.signal.changed_at is not None:
            mirror_freshness.landed(self.signal.changed_at, SOURCE)
        count_metric(f"Sync{kind}{'Written' if written else 'Skipped'}")
        logger.info(
            f"sync {kind.lower()}",
            extra={
                "event_name": self.signal.event_name,
                "event_id": self.signal.event_id,
                "sub": sub,
                "outcome": outcome.value,
                **extra,
            },
        )

    def unconfirmed(self, sub: str) -> None:
        self.result.unconfirmed.append(sub)
        count_metric("SyncDeletionUnconfirmed")
        logger.info(
            "sync: user not found, no evidence of a deletion: nothing written",
            extra={"event_name": self.signal.event_name, "event_id": self.signal.event_id, "sub": sub},
        )

    def not_found(self) -> None:
        self.result.not_found = True
        count_metric("SyncUserNotFound")
        logger.info(
            "sync: user not found, nothing written",
            extra={"event_name": self.signal.event_name, "event_id": self.signal.event_id},
        )


def sync_signal(signal: UserSignal, *, user_pool_id: str) -> SyncResult:
    """Re-read the user the signal names and write Cognito's current state (or a tombstone)."""
    writer = SyncWrites(signal)
    _sync_user(signal, user_pool_id, writer)
    return writer.result


def _sync_user(signal: UserSignal, user_pool_id: str, writer: SyncWrites) -> None:
    if signal.sub is not None:
        _sync_by_sub(signal.sub, signal, user_pool_id, writer)
    elif signal.username is not None:
        _sync_by_username(signal.username, signal, user_pool_id, writer)
    else:
        writer.result.ignored = "SyncUnidentified"
        count_metric("SyncUnidentified")
        logger.warning(
            "sync: record names no user",
            extra={"event_name": signal.event_name, "event_id": signal.event_id},
        )


def _gone(username: str, holder: UserSnapshot | None) -> bool:
    """Evidence that the user a mirrored row ties to `username` is gone, from AdminGetUser on that
    name: nobody holds it (UserNotFoundException), or its own holder is another user."""
    return holder is None or holder.username == username


def _sync_by_sub(sub: str, signal: UserSignal, user_pool_id: str, writer: SyncWrites) -> None:
    record = mirror_table().get_record(sub)
    if record is not None and record.is_tombstone:
        writer.result.unchanged.append(sub)
        count_metric("SyncTombstoneSkipped")  # deletion is final: no Cognito call needed
        return
    # The mirror's Username for the sub (Cognito's own, never changed) is the authority; else the
    # request's name, which is only a hint (it may be forged, or an alias that has moved).
    tied = record.username if record is not None and record.username else None
    name = tied or signal.username
    current = read_user(user_pool_id=user_pool_id, source=SOURCE, username=name) if name else None
    if current is not None and current.sub == sub:
        writer.snapshot(current, named=True)
        return
    if tied is not None and _gone(tied, current):
        writer.tombstone(sub)
        if current is not None:
            writer.snapshot(current)  # the name's new holder
        return
    if current is not None:
        writer.snapshot(current)  # another user answered the name: live, so mirror it
    found = _read_by_sub(sub, user_pool_id)
    if found is not None:
        writer.snapshot(found, named=True)
    elif record is not None or name is not None or signal.is_deletion:
        writer.unconfirmed(sub)  # something says "gone", but no evidence for this sub
    else:
        writer.not_found()


def _read_by_sub(sub: str, user_pool_id: str) -> UserSnapshot | None:
    """A ListUsers filter: it spends the pool's 30 RPS ListUsers quota (counted)."""
    count_metric("SyncListUsersLookup")
    return read_user(user_pool_id=user_pool_id, source=SOURCE, sub=sub)


def _sync_by_username(username: str, signal: UserSignal, user_pool_id: str, writer: SyncWrites) -> None:
    if not signal.is_deletion:
        current = read_user(user_pool_id=user_pool_id, source=SOURCE, username=username)
        if current is not None:
            writer.snapshot(current, named=True)
            return
    # A deletion, or nobody holds the name: the mirrored rows with this Username (Cognito's own,
    # never changed) belong to deleted users, except the one that holds the name right now.
    # Read (again) after the index query, so a user that took the name meanwhile is seen live.
    mirrored = mirror_table().find_subs_by_username(username)
    current = None
    if mirrored or signal.is_deletion:
        current = read_user(user_pool_id=user_pool_id, source=SOURCE, username=username)
    for sub in mirrored:
        if current is not None and sub == current.sub:
            continue
        if _gone(username, current):  # each of these rows ties `username` to its sub
            writer.tombstone(sub)
        else:
            writer.unconfirmed(sub)  # an alias of another user answered: no evidence
    if current is not None:
        writer.snapshot(current, named=not signal.is_deletion)
    elif not mirrored:
        writer.not_found()


def sync_membership(signal: UserSignal, *, user_pool_id: str) -> SyncResult:
    """AdminAddUserToGroup, AdminRemoveUserFromGroup: mirror the user the record names (as for any
    user event: a user not yet mirrored gets a row), then re-read their whole membership from
    Cognito and write it. The record's group is never trusted: the membership read is the truth,
    and an older read never overwrites a newer one (put_groups' guard)."""
    writer = SyncWrites(signal)
    _sync_user(signal, user_pool_id, writer)
    _sync_groups(writer, user_pool_id)
    return writer.result


def _sync_groups(writer: SyncWrites, user_pool_id: str) -> None:
    named = writer.named
    if named is None:
        return  # not found, or gone: nothing to hold a membership (a tombstone drops it)
    membership = read_groups(user_pool_id=user_pool_id, username=named.username)
    if membership is None:
        count_metric("SyncMembershipUserGone")  # deleted since: its own event tombstones it
        return
    writer.groups(named.sub, membership)


def sync_group_deletion(signal: UserSignal, *, user_pool_id: str) -> SyncResult:
    """DeleteGroup: once Cognito confirms the group is gone, take it out of every row the
    group-members table lists as a member. A deletion observed at T lands only on memberships
    observed before T: a user re-added to a group of the same name since keeps it.

    If the group exists again (re-created since), each listed member's whole membership is re-read
    instead, as for AdminRemoveUserFromGroup (one AdminGetUser and AdminListGroupsForUser each)."""
    writer = SyncWrites(signal)
    group = signal.group
    if group is None:
        writer.result.ignored = "SyncUnidentified"
        count_metric("SyncUnidentified")
        return writer.result
    members = group_members_table()  # ConfigurationError without MIRROR_GROUP_MEMBERS_TABLE
    observed = now_us()
    exists = group_exists(user_pool_id=user_pool_id, group=group)
    if exists:
        count_metric("SyncDeletedGroupExists")
    subs = list(members.member_subs(group))
    if not exists:
        writer.groups_removed(subs, group, observed)
        return writer.result
    for sub in subs:
        member = SyncWrites(replace(signal, sub=sub, username=None))
        _sync_user(member.signal, user_pool_id, member)
        _sync_groups(member, user_pool_id)
        writer.result.memberships += member.result.memberships
    return writer.result


def sync_message(body: str, *, user_pool_id: str) -> SyncResult:
    """Sync one SQS message body. Raises MalformedSyncRecordError, CognitoThrottledError,
    CognitoUnavailableError or TableUnavailableError: the record then fails alone and is retried."""
    event = parse_event(body)
    detail: dict[str, Any] = event.detail
    # Other CloudTrail kinds (e.g. "AWS Service Event via CloudTrail" from the hosted UI and token
    # endpoints) are well-formed events that are not ours to sync, like any other ignored event.
    reason = (
        "SyncIgnoredDetailType" if event.detail_type != DETAIL_TYPE else ignore_reason(detail, user_pool_id)
    )
    if reason is not None:
        count_metric(reason)
        logger.debug(
            "sync: event ignored",
            extra={"reason": reason, "event_name": loggable(detail.get("eventName"), API_NAME_SHAPE)},
        )
        return SyncResult(ignored=reason)
    signal = signal_from_detail(detail)
    if not signal.pool_named:
        count_metric("SyncPoolNotNamed")
    if signal.is_group_deletion:
        return sync_group_deletion(signal, user_pool_id=user_pool_id)
    if signal.is_membership:
        return sync_membership(signal, user_pool_id=user_pool_id)
    return sync_signal(signal, user_pool_id=user_pool_id)
