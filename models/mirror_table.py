"""The mirror table and its one guarded write path.

Every writer (triggers, sync, reconcile, backfill, read-through) goes through `put_snapshot` or
`put_tombstone`. Both are conditional writes:

- a snapshot lands only if the row does not exist, or holds an older snapshot that is not a
  tombstone: an older or duplicate snapshot is a no-op;
- a tombstone lands unless the row is already a tombstone, whatever its time: subs are never
  reused, so a deleted user is never resurrected. Its TTL outlives SQS's 14-day retention,
  so no late event can arrive after the tombstone expires.

The only way out of a tombstone is `revive_tombstone`, for a tombstone proved wrong: the engine
calls it with a snapshot AdminGetUser has just returned for that very sub.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
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

from cognito_mirror.index_keys import SLOT_NAMES, index_keys
from models.settings import Settings, get_settings
from models.user import UserSnapshot

USERNAME_INDEX = "username-index"
# Keys starting with "#" are reserved for engine state; they can never be a sub (see valid_sub).
RESERVED_PREFIX = "#"


class MirrorUnavailableError(RuntimeError):
    """DynamoDB could not be reached or refused the call (not a condition failure)."""


class MalformedStateError(ValueError):
    """A reserved state row whose `state` is not a string."""


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
    # The user directory's sparse index keys (cognito_mirror/index_keys.py): present only where the user
    # has the slot's attribute; a tombstone has none.
    dir0 = UnicodeAttribute(null=True)
    dir1 = UnicodeAttribute(null=True)
    dir2 = UnicodeAttribute(null=True)
    by_username = UsernameIndex()

    @property
    def is_tombstone(self) -> bool:
        return bool(self.deleted)

    def stored_index_keys(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in SLOT_NAMES}

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
        # Not `exc.cause_response_code`: it raises AttributeError when the cause is a transport error
        # (a read timeout carries `response=None`).
        code = error_code(exc.cause) if exc.cause is not None else type(exc).__name__
        if code == "ConditionalCheckFailedException":
            return WriteOutcome.SKIPPED
        raise MirrorUnavailableError(f"mirror write failed: {code}") from exc
    except PynamoDBException as exc:
        raise MirrorUnavailableError(f"mirror write failed: {type(exc).__name__}") from exc
    return WriteOutcome.WRITTEN


def expected_index_keys(sub: str, attributes: dict[str, str]) -> dict[str, str | None]:
    """The directory keys a row with these attributes must carry under the current setting."""
    return index_keys(sub, attributes, get_settings().indexed_attributes)


def record_from_snapshot(snapshot: UserSnapshot) -> MirrorRecord:
    model = _bound_model()
    record = model(
        snapshot.sub,
        username=snapshot.username,
        attributes=MapAttribute(**snapshot.attributes),
        status=snapshot.status,
        enabled=snapshot.enabled,
        observed_at=snapshot.observed_at,
        source=snapshot.source,
        deleted=False,
    )
    for name, key in expected_index_keys(snapshot.sub, snapshot.attributes).items():
        setattr(record, name, key)
    return record


def put_snapshot(snapshot: UserSnapshot) -> WriteOutcome:
    """Store `snapshot` if it is newer than what the mirror holds (idempotent)."""
    return _conditional_put(record_from_snapshot(snapshot), snapshot_condition(snapshot.observed_at))


def put_tombstone(sub: str, *, observed_at: int, source: str) -> WriteOutcome:
    """Mark `sub` deleted; later or late snapshots never bring it back until the TTL expires."""
    model = _bound_model()
    expires = datetime.now(UTC) + timedelta(days=get_settings().tombstone_ttl_days)
    record = model(sub, observed_at=observed_at, source=source, deleted=True, expires_at=expires)
    return _conditional_put(record, MirrorRecord.sub.does_not_exist() | _not_tombstone())


def revive_tombstone(snapshot: UserSnapshot) -> WriteOutcome:
    """Replace a wrong tombstone by `snapshot` (idempotent); the only write that lands on one.

    Call it only with a snapshot AdminGetUser returned for `snapshot.sub` just now: the user
    exists, so the tombstone was wrong (subs are never reused). It lands only on a tombstone older
    than the snapshot: a live or missing row is left to `put_snapshot`, a tombstone written after
    the read (a deletion since) stands, and a second call finds no tombstone. The whole item is
    replaced, so the tombstone's TTL goes with it.
    """
    if snapshot.sub.startswith(RESERVED_PREFIX):
        raise ValueError("a reserved engine-state key is not a user")
    tombstone: Condition = MirrorRecord.deleted == True  # noqa: E712
    condition: Condition = tombstone & (MirrorRecord.observed_at < snapshot.observed_at)
    return _conditional_put(record_from_snapshot(snapshot), condition)


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


# --- Bulk access for the backfill/reconcile engine (same guard semantics as above) ---------------

BATCH_GET_MAX = 100
BATCH_STATEMENTS_MAX = 25
_FIELDS = ("sub", "username", "attributes", "status", "enabled", "observed_at", "source", "deleted")


def set_pool_size(connections: int) -> None:
    """Let `connections` threads share the mirror's HTTP connection pool (bulk jobs only)."""
    model = _bound_model()
    meta: Any = model.Meta
    if getattr(meta, "max_pool_connections", None) != connections:
        meta.max_pool_connections = connections
        model._connection = None


def get_records(subs: list[str]) -> dict[str, MirrorRecord]:
    """The stored rows (live or tombstone) of `subs`, by sub; eventually consistent BatchGetItem."""
    model = _bound_model()
    try:
        fields = [*_FIELDS, *SLOT_NAMES]
        return {row.sub: row for row in model.batch_get(subs, attributes_to_get=fields)}
    except PynamoDBException as exc:
        raise MirrorUnavailableError(f"mirror batch read failed: {type(exc).__name__}") from exc


SCAN_PAGE_SIZE = 500


def scan_records(segment: int, total_segments: int, *, with_index: bool = False) -> Iterator[MirrorRecord]:
    """One segment of a parallel Scan (sub, username, deleted; with `with_index` also what the
    directory keys derive from, and the keys); reserved rows left out.

    Pages are capped at SCAN_PAGE_SIZE rows so memory does not depend on the table's size.
    """
    model = _bound_model()
    fields = ["sub", "username", "deleted"]
    if with_index:
        fields += ["attributes", "observed_at", *SLOT_NAMES]
    try:
        for row in model.scan(
            segment=segment,
            total_segments=total_segments,
            attributes_to_get=fields,
            page_size=SCAN_PAGE_SIZE,
        ):
            if not row.sub.startswith(RESERVED_PREFIX):
                yield row
    except PynamoDBException as exc:
        raise MirrorUnavailableError(f"mirror scan failed: {type(exc).__name__}") from exc


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore error, else its type name (for one-line messages)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code") or type(exc).__name__)


def _client() -> Any:
    """The botocore client behind the bound model (same endpoint, timeouts and pool)."""
    return _bound_model()._get_connection().connection.client


def _insert_statement(table: str, keys: list[str]) -> str:
    fields = ", ".join(f"'{name}': ?" for name in (*_FIELDS, *keys))
    return f'INSERT INTO "{table}" VALUE {{{fields}}}'


def _update_statement(table: str, keys: list[str]) -> str:
    sets = " ".join(f'SET "{name}" = ?' for name in (*_FIELDS, *keys) if name != "sub")
    # Index keys the user no longer has leave their index (an absent key makes the row unlisted).
    removes = "".join(f' REMOVE "{name}"' for name in SLOT_NAMES if name not in keys)
    # The same guard as snapshot_condition, for a row that exists: older and not a tombstone.
    return (
        f'UPDATE "{table}" {sets}{removes} WHERE "sub" = ? AND "observed_at" < ? '
        f'AND ("deleted" IS MISSING OR "deleted" = false)'
    )


def _statement(snapshot: UserSnapshot, table: str, *, insert: bool) -> dict[str, Any]:
    item = record_from_snapshot(snapshot).serialize()
    keys = [name for name in SLOT_NAMES if name in item]
    if insert:
        params = [item[name] for name in (*_FIELDS, *keys)]
        return {"Statement": _insert_statement(table, keys), "Parameters": params}
    params = [item[name] for name in (*_FIELDS, *keys) if name != "sub"]
    params += [item["sub"], {"N": str(snapshot.observed_at)}]
    return {"Statement": _update_statement(table, keys), "Parameters": params}


def put_snapshots(snapshots: list[UserSnapshot], *, missing: set[str]) -> list[WriteOutcome]:
    """Guarded bulk version of `put_snapshot` (PartiQL BatchExecuteStatement, 25 per call).

    Subs in `missing` (no row when last read) are INSERTed: that lands only on a missing row.
    The others are UPDATEd under the snapshot guard (exists, older, not a tombstone). If the row
    changed in between (an INSERT finds a row, an UPDATE finds none), the statement is retried once
    in the other form, so a row written meanwhile by a trigger or sync is never overwritten.
    Outcomes come back in the order of `snapshots`.
    """
    table = _bound_model().Meta.table_name
    outcomes: list[WriteOutcome] = [WriteOutcome.SKIPPED] * len(snapshots)
    pending = [(index, snapshot.sub in missing) for index, snapshot in enumerate(snapshots)]
    for attempt in range(2):
        retry: list[tuple[int, bool]] = []
        for start in range(0, len(pending), BATCH_STATEMENTS_MAX):
            chunk = pending[start : start + BATCH_STATEMENTS_MAX]
            statements = [_statement(snapshots[i], table, insert=insert) for i, insert in chunk]
            try:
                responses = _client().batch_execute_statement(Statements=statements)["Responses"]
            except (BotoCoreError, ClientError) as exc:
                raise MirrorUnavailableError(f"mirror batch write failed: {error_code(exc)}") from exc
            for (index, insert), response in zip(chunk, responses, strict=True):
                code = response.get("Error", {}).get("Code")
                if code is None:
                    outcomes[index] = WriteOutcome.WRITTEN
                elif code in ("DuplicateItem", "ConditionalCheckFailed"):
                    # INSERT met a row: try the guarded UPDATE. A failed UPDATE is either "newer or
                    # tombstone" (final) or "no row": only the INSERT form can tell, so retry once.
                    if attempt == 0:
                        retry.append((index, not insert))
                else:
                    raise MirrorUnavailableError(f"mirror batch write failed: {code}")
        pending = retry
    return outcomes


def put_index_keys(sub: str, *, observed_at: int, keys: dict[str, str | None]) -> WriteOutcome:
    """Rewrite only a row's directory keys (reindex), guarded on the very snapshot they derive from.

    Lands only on a live row still holding the snapshot observed at `observed_at`: a newer write
    (which carries its own keys) or a tombstone in between makes it a no-op. `observed_at` and
    every other field are left as they are.
    """
    sets = [name for name in SLOT_NAMES if keys.get(name)]
    removes = [name for name in SLOT_NAMES if not keys.get(name)]
    expression = ""
    if sets:
        expression += "SET " + ", ".join(f"#{name} = :{name}" for name in sets)
    if removes:
        expression += " REMOVE " + ", ".join(f"#{name}" for name in removes)
    names = {f"#{name}": name for name in SLOT_NAMES}
    names.update({"#observed_at": "observed_at", "#deleted": "deleted"})
    values: dict[str, Any] = {f":{name}": {"S": keys[name]} for name in sets}
    values.update({":observed_at": {"N": str(observed_at)}, ":false": {"BOOL": False}})
    try:
        _client().update_item(
            TableName=_bound_model().Meta.table_name,
            Key={"sub": {"S": sub}},
            UpdateExpression=expression.strip(),
            ConditionExpression="#observed_at = :observed_at AND "
            "(attribute_not_exists(#deleted) OR #deleted = :false)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return WriteOutcome.SKIPPED
        raise MirrorUnavailableError(f"mirror index write failed: {error_code(exc)}") from exc
    except BotoCoreError as exc:
        raise MirrorUnavailableError(f"mirror index write failed: {error_code(exc)}") from exc
    return WriteOutcome.WRITTEN


def query_index(
    index: str, key_name: str, partition: str, *, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One Query page of a GSI partition, in sort-key order: its raw items and LastEvaluatedKey."""
    kwargs: dict[str, Any] = {
        "TableName": _bound_model().Meta.table_name,
        "IndexName": index,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": key_name},
        "ExpressionAttributeValues": {":v": {"S": partition}},
        "Limit": limit,
    }
    if start_key is not None:
        kwargs["ExclusiveStartKey"] = start_key
    try:
        response = _client().query(**kwargs)
    except (BotoCoreError, ClientError) as exc:
        raise MirrorUnavailableError(f"mirror query failed: {error_code(exc)}") from exc
    return response.get("Items", []), response.get("LastEvaluatedKey")


def live_snapshot_from_item(item: dict[str, Any]) -> UserSnapshot | None:
    """The user of a raw directory item (its projection), or None for a tombstone or reserved row.

    Read straight from the wire format: a listing decodes thousands of these, and a full
    `MirrorRecord` per item costs several times more than the Query itself on a fast store.
    """
    sub = item["sub"]["S"]
    if item.get("deleted", {}).get("BOOL") or sub.startswith(RESERVED_PREFIX):
        return None
    attributes = item.get("attributes", {}).get("M", {})
    return UserSnapshot(
        sub=sub,
        username=item.get("username", {}).get("S", ""),
        attributes={name: value["S"] for name, value in attributes.items() if "S" in value},
        status=item.get("status", {}).get("S", "UNKNOWN"),
        enabled=bool(item.get("enabled", {}).get("BOOL")),
        observed_at=int(item["observed_at"]["N"]),
        source=item.get("source", {}).get("S", ""),
    )


def load_state(key: str) -> str | None:
    """The engine state stored under a reserved key, or None; MalformedStateError if not a string."""
    assert key.startswith(RESERVED_PREFIX)
    try:
        item = (
            _client()
            .get_item(TableName=_bound_model().Meta.table_name, Key={"sub": {"S": key}}, ConsistentRead=True)
            .get("Item")
        )
    except (BotoCoreError, ClientError) as exc:
        raise MirrorUnavailableError(f"mirror state read failed: {error_code(exc)}") from exc
    if not item or "state" not in item:
        return None
    if "S" not in item["state"]:
        raise MalformedStateError("the stored state is not a string")
    return str(item["state"]["S"])


def save_state(key: str, state: str | None) -> None:
    """Store (or with None, remove) engine state under a reserved key.

    The row looks like a tombstone to every reader (`deleted`, TTL), so no reader mistakes it
    for a user, and an abandoned state expires by itself.
    """
    assert key.startswith(RESERVED_PREFIX)
    table = _bound_model().Meta.table_name
    try:
        if state is None:
            _client().delete_item(TableName=table, Key={"sub": {"S": key}})
            return
        expires = datetime.now(UTC) + timedelta(days=get_settings().tombstone_ttl_days)
        item = {
            "sub": {"S": key},
            "state": {"S": state},
            "observed_at": {"N": "0"},
            "source": {"S": "engine-state"},
            "deleted": {"BOOL": True},
            "expires_at": {"N": str(int(expires.timestamp()))},
        }
        _client().put_item(TableName=table, Item=item)
    except (BotoCoreError, ClientError) as exc:
        raise MirrorUnavailableError(f"mirror state write failed: {error_code(exc)}") from exc
