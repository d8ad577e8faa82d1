"""CloudTrail sync: turn one "AWS API Call via CloudTrail" event into guarded mirror writes.

A CloudTrail record is a signal, never data: its values can be redacted
(`HIDDEN_FOR_SECURITY_REASONS`), stale or out of order. We only take from it who the user is
(a `sub`, a username, or both), re-read that user from Cognito and write what Cognito says now,
through the one guarded write path (`models.mirror_table`). Redelivered or reordered events
therefore converge on Cognito's current state: a re-read is never older than the last one.

A tombstone is written only on evidence about that very sub: AdminGetUser on a Username that the
mirror's own row ties to the sub (Cognito's own, which never changes) either raises
UserNotFoundException, or answers a user whose own Username is that name and whose sub differs
(usernames are unique: the name was reused, so the row's user is gone). Silence is no evidence:
a ListUsers filter that finds nothing (it lags new users), a request username (forgeable, or an
alias that moved) or an alias that resolves to another user never tombstones anybody. Without
evidence the record is acknowledged and counted (`SyncDeletionUnconfirmed`); the scheduled
reconcile prunes a user that is really gone. So a tombstone always needs a mirrored row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from functions.common.cognito import read_user, valid_sub
from functions.common.observability import count, logger
from models.mirror_table import WriteOutcome, find_subs_by_username, get_record, put_snapshot, put_tombstone
from models.settings import ConfigurationError, get_settings
from models.user import UserSnapshot, now_us

SOURCE = "attribute_sync"
DETAIL_TYPE = "AWS API Call via CloudTrail"
EVENT_SOURCE = "cognito-idp.amazonaws.com"

# The calls that change a user without any Cognito trigger seeing it.
SYNCED_EVENTS = frozenset(
    {
        "AdminCreateUser",
        "AdminConfirmSignUp",
        "ConfirmSignUp",
        "AdminUpdateUserAttributes",
        "UpdateUserAttributes",
        "VerifyUserAttribute",
        "AdminDeleteUserAttributes",
        "DeleteUserAttributes",
        "AdminDisableUser",
        "AdminEnableUser",
        "AdminDeleteUser",
        "DeleteUser",
        "AdminLinkProviderForUser",
        "AdminSetUserPassword",
        "AdminResetUserPassword",
    }
)
DELETION_EVENTS = frozenset({"AdminDeleteUser", "DeleteUser"})
# AWS documents HIDDEN_FOR_SECURITY_REASONS; CloudTrail's event history shows HIDDEN_DUE_TO_....
_HIDDEN_SUFFIX = "_SECURITY_REASONS"
_MAX_USERNAME = 128
# What a record's own identifiers must look like to be logged: CloudTrail event ids are GUIDs, API
# names are CamelCase of two words or more. Anything else (a forged or mangled record) may carry
# personal data, so it is logged as its type only.
_EVENT_ID = re.compile(r"^[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_API_NAME = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+$")


class MalformedSyncRecordError(ValueError):
    """The SQS body is not an EventBridge event: it fails alone and ends in the DLQ."""


@dataclass(frozen=True)
class UserSignal:
    """Who a CloudTrail record is about; either field may be unknown (None)."""

    event_name: str
    event_id: str
    sub: str | None
    username: str | None
    # True when the record names our pool; False when it names none (token-authorized calls).
    pool_named: bool

    @property
    def is_deletion(self) -> bool:
        return self.event_name in DELETION_EVENTS


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


def require_user_pool_id() -> str:
    pool = get_settings().user_pool_id
    if pool is None:
        raise ConfigurationError("USER_POOL_ID is not set: attribute sync needs the pool it mirrors")
    return pool


def parse_event(body: str) -> EventBridgeEvent:
    """The EventBridge event carried in an SQS body: a `detail-type` string and a `detail` object."""
    try:
        payload = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedSyncRecordError("body is not JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedSyncRecordError("body is not a JSON object")
    if not isinstance(payload.get("detail-type"), str) or not isinstance(payload.get("detail"), dict):
        raise MalformedSyncRecordError("body is not an EventBridge event with a detail object")
    return EventBridgeEvent(payload)


def _text(value: Any, limit: int) -> str | None:
    """A usable identifier: a non-empty string that is not redacted."""
    if not isinstance(value, str) or not value or len(value) > limit or value.endswith(_HIDDEN_SUFFIX):
        return None
    return value


def loggable(value: Any, shape: re.Pattern[str]) -> str:
    """`value` when it has the expected shape, else its type name (never a value that could be PII)."""
    if isinstance(value, str) and shape.match(value):
        return value
    return f"<{type(value).__name__}>"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pool_of(detail: dict[str, Any]) -> str | None:
    """The pool a record names: request, additional data, or a `resources` ARN (in that order)."""
    for holder in (_dict(detail.get("requestParameters")), _dict(detail.get("additionalEventData"))):
        pool = _text(holder.get("userPoolId"), 64)
        if pool:
            return pool
    for resource in detail.get("resources") or ():
        arn = _text(_dict(resource).get("ARN"), 256)
        if arn and ":userpool/" in arn:
            return arn.rsplit("/", 1)[1]
    return None


def _sub_of(detail: dict[str, Any]) -> str | None:
    response = _dict(detail.get("responseElements"))
    candidates = [_dict(detail.get("additionalEventData")).get("sub"), response.get("userSub")]
    for attribute in _dict(response.get("user")).get("attributes") or ():
        attribute = _dict(attribute)
        if attribute.get("name") == "sub":
            candidates.append(attribute.get("value"))
    for candidate in candidates:
        sub = _text(candidate, 128)
        if sub and valid_sub(sub):
            return sub
    return None


def _username_of(detail: dict[str, Any]) -> str | None:
    request = _dict(detail.get("requestParameters"))
    destination = _dict(request.get("destinationUser"))  # AdminLinkProviderForUser
    linked = None
    if destination.get("providerName") == "Cognito":
        linked = destination.get("providerAttributeValue")
    created = _dict(_dict(detail.get("responseElements")).get("user")).get("username")
    for candidate in (request.get("username"), linked, created):
        username = _text(candidate, _MAX_USERNAME)
        if username:
            return username
    return None


def ignore_reason(detail: dict[str, Any], user_pool_id: str) -> str | None:
    """Why this record is not ours to sync (a metric name), or None."""
    if detail.get("eventSource") != EVENT_SOURCE:
        return "SyncIgnoredEventSource"
    name = detail.get("eventName")
    if not isinstance(name, str) or name not in SYNCED_EVENTS:
        return "SyncIgnoredEventName"
    if detail.get("errorCode"):
        return "SyncIgnoredFailedCall"  # the call failed: nothing changed in Cognito
    pool = _pool_of(detail)
    if pool is not None and pool != user_pool_id:
        return "SyncIgnoredUserPool"
    return None


def signal_from_detail(detail: dict[str, Any]) -> UserSignal:
    return UserSignal(
        event_name=str(detail.get("eventName")),
        event_id=loggable(detail.get("eventID"), _EVENT_ID),
        sub=_sub_of(detail),
        username=_username_of(detail),
        pool_named=_pool_of(detail) is not None,
    )


class _Writer:
    """The guarded writes of one event, counted and logged (subs and attribute names only)."""

    def __init__(self, signal: UserSignal) -> None:
        self.signal = signal
        self.result = SyncResult()

    def snapshot(self, snapshot: UserSnapshot) -> None:
        outcome = put_snapshot(snapshot)
        self._done("Snapshot", snapshot.sub, outcome, attribute_names=sorted(snapshot.attributes))

    def tombstone(self, sub: str) -> None:
        self._done("Tombstone", sub, put_tombstone(sub, observed_at=now_us(), source=SOURCE))

    def _done(self, kind: str, sub: str, outcome: WriteOutcome, **extra: Any) -> None:
        written = outcome is WriteOutcome.WRITTEN
        landed = self.result.written if kind == "Snapshot" else self.result.tombstoned
        (landed if written else self.result.unchanged).append(sub)
        count(f"Sync{kind}{'Written' if written else 'Skipped'}")
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
        count("SyncDeletionUnconfirmed")
        logger.info(
            "sync: user not found, no evidence of a deletion: nothing written",
            extra={"event_name": self.signal.event_name, "event_id": self.signal.event_id, "sub": sub},
        )

    def not_found(self) -> None:
        self.result.not_found = True
        count("SyncUserNotFound")
        logger.info(
            "sync: user not found, nothing written",
            extra={"event_name": self.signal.event_name, "event_id": self.signal.event_id},
        )


def sync_signal(signal: UserSignal, *, user_pool_id: str) -> SyncResult:
    """Re-read the user the signal names and write Cognito's current state (or a tombstone)."""
    writer = _Writer(signal)
    if signal.sub is not None:
        _sync_by_sub(signal.sub, signal, user_pool_id, writer)
    elif signal.username is not None:
        _sync_by_username(signal.username, signal, user_pool_id, writer)
    else:
        writer.result.ignored = "SyncUnidentified"
        count("SyncUnidentified")
        logger.warning(
            "sync: record names no user",
            extra={"event_name": signal.event_name, "event_id": signal.event_id},
        )
    return writer.result


def _gone(username: str, holder: UserSnapshot | None) -> bool:
    """Evidence that the user a mirrored row ties to `username` is gone, from AdminGetUser on that
    name: nobody holds it (UserNotFoundException), or its own holder is another user."""
    return holder is None or holder.username == username


def _sync_by_sub(sub: str, signal: UserSignal, user_pool_id: str, writer: _Writer) -> None:
    record = get_record(sub)
    if record is not None and record.is_tombstone:
        writer.result.unchanged.append(sub)
        count("SyncTombstoneSkipped")  # deletion is final: no Cognito call needed
        return
    # The mirror's Username for the sub (Cognito's own, never changed) is the authority; else the
    # request's name, which is only a hint (it may be forged, or an alias that has moved).
    tied = record.username if record is not None and record.username else None
    name = tied or signal.username
    current = read_user(user_pool_id=user_pool_id, source=SOURCE, username=name) if name else None
    if current is not None and current.sub == sub:
        writer.snapshot(current)
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
        writer.snapshot(found)
    elif record is not None or name is not None or signal.is_deletion:
        writer.unconfirmed(sub)  # something says "gone", but no evidence for this sub
    else:
        writer.not_found()


def _read_by_sub(sub: str, user_pool_id: str) -> UserSnapshot | None:
    """A ListUsers filter: it spends the pool's 30 RPS ListUsers quota (counted)."""
    count("SyncListUsersLookup")
    return read_user(user_pool_id=user_pool_id, source=SOURCE, sub=sub)


def _sync_by_username(username: str, signal: UserSignal, user_pool_id: str, writer: _Writer) -> None:
    if not signal.is_deletion:
        current = read_user(user_pool_id=user_pool_id, source=SOURCE, username=username)
        if current is not None:
            writer.snapshot(current)
            return
    # A deletion, or nobody holds the name: the mirrored rows with this Username (Cognito's own,
    # never changed) belong to deleted users, except the one that holds the name right now.
    # Read (again) after the index query, so a user that took the name meanwhile is seen live.
    mirrored = find_subs_by_username(username)
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
        writer.snapshot(current)
    elif not mirrored:
        writer.not_found()


def sync_message(body: str, *, user_pool_id: str) -> SyncResult:
    """Sync one SQS message body. Raises MalformedSyncRecordError, CognitoThrottledError,
    ServiceUnavailableError or MirrorUnavailableError: the record then fails alone and is retried."""
    event = parse_event(body)
    detail: dict[str, Any] = event.detail
    # Other CloudTrail kinds (e.g. "AWS Service Event via CloudTrail" from the hosted UI and token
    # endpoints) are well-formed events that are not ours to sync, like any other ignored event.
    reason = (
        "SyncIgnoredDetailType" if event.detail_type != DETAIL_TYPE else ignore_reason(detail, user_pool_id)
    )
    if reason is not None:
        count(reason)
        logger.debug(
            "sync: event ignored",
            extra={"reason": reason, "event_name": loggable(detail.get("eventName"), _API_NAME)},
        )
        return SyncResult(ignored=reason)
    signal = signal_from_detail(detail)
    if not signal.pool_named:
        count("SyncPoolNotNamed")
    return sync_signal(signal, user_pool_id=user_pool_id)
