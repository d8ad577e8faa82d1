"""The mirror table and its one guarded write path.

Every writer (triggers, sync, reconcile, backfill, read-through) goes through `put_snapshot` or
`put_tombstone`. Both are conditional writes:

- a snapshot lands only if the row does not exist, or holds an older snapshot that is not a
  tombstone: an older or duplicate snapshot is a no-op;
- a tombstone lands unless the row is already a tombstone, whatever its time: subs are never
  reused, so a deleted user is never resurrected. Its TTL outlives SQS's 14-day retention,
  so no late event can arrive after the tombstone expires.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import GetError, PutError, PynamoDBException, QueryError
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from models.settings import Settings, get_settings
from models.user import UserSnapshot

USERNAME_INDEX = "username-index"


class MirrorUnavailableError(RuntimeError):
    """DynamoDB could not be reached or refused the call (not a condition failure)."""


class WriteOutcome(enum.Enum):
    WRITTEN = "written"
    # The stored row is as new or newer, or is a tombstone: nothing changed.
    SKIPPED = "skipped"


class UsernameIndex(GlobalSecondaryIndex["MirrorRecord"]):
    class Meta:
        index_name = USERNAME_INDEX
        projection = KeysOnlyProjection()

    username = UnicodeAttribute(hash_key=True)


class MirrorRecord(Model):
    """One row per user, keyed by the immutable `sub`."""

    class Meta:
        # Bound at first use from Settings (see `_bound_model`); never hard-coded here.
        table_name: str = "unbound"
        region: str | None = None
        billing_mode = "PAY_PER_REQUEST"

    sub = UnicodeAttribute(hash_key=True)
    username = UnicodeAttribute(null=True)
    attributes: MapAttribute[str, str] = MapAttribute(null=True)
    status = UnicodeAttribute(null=True)
    enabled = BooleanAttribute(null=True)
    observed_at = NumberAttribute()
    source = UnicodeAttribute()
    deleted = BooleanAttribute(default=False)
    expires_at = TTLAttribute(null=True)
    by_username = UsernameIndex()

    @property
    def is_tombstone(self) -> bool:
        return bool(self.deleted)

    def to_snapshot(self) -> UserSnapshot:
        return UserSnapshot(
            sub=self.sub,
            username=self.username or "",
            attributes=self.attributes.as_dict() if self.attributes else {},
            status=self.status or "UNKNOWN",
            enabled=bool(self.enabled),
            observed_at=int(self.observed_at),
            source=self.source,
        )


_bound_to: Settings | None = None


def _bound_model() -> type[MirrorRecord]:
    """MirrorRecord bound to the current settings (table, region, timeouts)."""
    global _bound_to
    settings = get_settings()
    if _bound_to is not settings:
        meta: Any = MirrorRecord.Meta
        meta.table_name = settings.table_name
        meta.region = settings.region
        meta.connect_timeout_seconds = settings.ddb_connect_timeout
        meta.read_timeout_seconds = settings.ddb_read_timeout
        meta.max_retry_attempts = settings.ddb_max_retries
        meta.retry_configuration = "LEGACY"  # total attempts = 1 + max_retry_attempts
        MirrorRecord._connection = None
        _bound_to = settings
    return MirrorRecord


def _not_tombstone() -> Condition:
    condition: Condition = MirrorRecord.deleted.does_not_exist() | (MirrorRecord.deleted == False)  # noqa: E712
    return condition


def snapshot_condition(observed_at: int) -> Condition:
    """Lands on a missing row, or over an older live snapshot."""
    newer: Condition = MirrorRecord.observed_at < observed_at
    condition: Condition = MirrorRecord.sub.does_not_exist() | (newer & _not_tombstone())
    return condition


def _conditional_put(record: MirrorRecord, condition: Condition) -> WriteOutcome:
    try:
        record.save(condition=condition)
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return WriteOutcome.SKIPPED
        raise MirrorUnavailableError(f"mirror write failed: {exc.cause_response_code}") from exc
    except PynamoDBException as exc:
        raise MirrorUnavailableError(f"mirror write failed: {type(exc).__name__}") from exc
    return WriteOutcome.WRITTEN


def record_from_snapshot(snapshot: UserSnapshot) -> MirrorRecord:
    model = _bound_model()
    return model(
        snapshot.sub,
        username=snapshot.username,
        attributes=MapAttribute(**snapshot.attributes),
        status=snapshot.status,
        enabled=snapshot.enabled,
        observed_at=snapshot.observed_at,
        source=snapshot.source,
        deleted=False,
    )


def put_snapshot(snapshot: UserSnapshot) -> WriteOutcome:
    """Store `snapshot` if it is newer than what the mirror holds (idempotent)."""
    return _conditional_put(record_from_snapshot(snapshot), snapshot_condition(snapshot.observed_at))


def put_tombstone(sub: str, *, observed_at: int, source: str) -> WriteOutcome:
    """Mark `sub` deleted; later or late snapshots never bring it back until the TTL expires."""
    model = _bound_model()
    expires = datetime.now(UTC) + timedelta(days=get_settings().tombstone_ttl_days)
    record = model(sub, observed_at=observed_at, source=source, deleted=True, expires_at=expires)
    return _conditional_put(record, MirrorRecord.sub.does_not_exist() | _not_tombstone())


def get_record(sub: str, *, consistent: bool = False) -> MirrorRecord | None:
    """The stored row (live or tombstone), or None."""
    model = _bound_model()
    try:
        return model.get(sub, consistent_read=consistent)
    except model.DoesNotExist:
        return None
    except (GetError, PynamoDBException) as exc:
        raise MirrorUnavailableError(f"mirror read failed: {type(exc).__name__}") from exc


def find_subs_by_username(username: str) -> list[str]:
    """Subs of the rows whose username is `username` (via the KEYS_ONLY index)."""
    model = _bound_model()
    try:
        return [row.sub for row in model.by_username.query(username)]
    except (QueryError, PynamoDBException) as exc:
        raise MirrorUnavailableError(f"mirror query failed: {type(exc).__name__}") from exc
