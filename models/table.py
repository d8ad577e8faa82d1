"""The mirror table as one data-access object, and its one guarded write path.

Every writer (triggers, sync, reconcile, backfill, read-through) goes through `put_snapshot`,
`put_snapshots` or `put_tombstone`; the membership through `put_groups` and `remove_group`. All are
conditional writes (models/guard.py; the UpdateItems rendered in models/guard.py):

- a snapshot lands only if the row does not exist, or holds an older snapshot that is not a
  tombstone: an older or duplicate snapshot is a no-op;
- a tombstone lands unless the row is already a tombstone, whatever its time: subs are never
  reused, so a deleted user is never resurrected. Its TTL outlives SQS's 14-day retention,
  so no late event can arrive after the tombstone expires;
- a membership is versioned apart from the profile (`groups_observed_at`): a profile write leaves
  it as it is, a membership write lands only on a live row whose membership is older or unknown,
  and a tombstone (a whole new item) drops it.

The only way out of a tombstone is `revive_tombstone`, for a tombstone proved wrong: the engine
calls it with a snapshot AdminGetUser has just returned for that very sub.

A `MirrorTable` is built from a `TableConfig` and owns its DynamoDB client (created on first use,
once). Lambda code takes the process's table from `mirror_table()`; an admin CLI passes the settings
it built from its arguments to `table_for_settings`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cognito_mirror.directory import query_request
from cognito_mirror.record import (
    FIELDS,
    GROUP_FIELDS,
    KEY,
    SLOT_NAMES,
    TTL_FIELD,
    USERNAME_INDEX,
    index_keys,
    is_reserved,
    item_from_row,
)
from models import guard
from models.aws import bounded_config, create_client
from models.errors import TableUnavailableError, error_code
from models.guard import WriteOutcome
from models.partiql import Membership, put_memberships, put_snapshots
from models.record import MirrorRecord, record_from_item
from models.settings import ClientBounds, Settings, get_settings
from models.user import UserSnapshot

BATCH_GET_MAX = 100
SCAN_PAGE_SIZE = 500
_UNPROCESSED_ROUNDS = 8
_DATA_ERRORS = (BotoCoreError, ClientError)
Memberships = dict[str, Membership] | None


@dataclass(frozen=True)
class TableConfig:
    """Where the table is and how to talk to it. Endpoints come from botocore's own variables
    (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`) unless `endpoint_url` is given."""

    table_name: str
    region: str
    ddb_connect_timeout: float = 0.5
    ddb_read_timeout: float = 1.0
    ddb_max_retries: int = 1
    pool_size: int = 10
    endpoint_url: str | None = None
    aws_profile: str | None = None
    instance_metadata: bool = True
    indexed_attributes: tuple[str, ...] = ()
    tombstone_ttl_days: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> TableConfig:
        """The settings' table, as the library's reader sees it too (`Settings.table_access`)."""
        return cls(
            **settings.table_access(),
            aws_profile=settings.aws_profile,
            instance_metadata=settings.instance_metadata,
            tombstone_ttl_days=settings.tombstone_ttl_days,
        )


def table_client(config: TableConfig) -> Any:
    """A DynamoDB client for a table: the config's timeouts, retries (1 + max_retries attempts) and pool."""
    bounds = ClientBounds(config.ddb_connect_timeout, config.ddb_read_timeout, 1 + config.ddb_max_retries)
    client_config = bounded_config(bounds, pool_size=config.pool_size, validate=False)
    return create_client(
        "dynamodb",
        region=config.region,
        config=client_config,
        profile=config.aws_profile,
        instance_metadata=config.instance_metadata,
        endpoint_url=config.endpoint_url,
    )


class MirrorTable:
    """The users table: guarded writes, reads, scans and directory queries."""

    def __init__(self, config: TableConfig) -> None:
        self.config = config
        self.name = config.table_name
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        """This table's DynamoDB client (created on first use)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = table_client(self.config)
        return self._client

    def with_pool_size(self, connections: int) -> MirrorTable:
        """The same table, for `connections` threads sharing one HTTP connection pool (bulk jobs)."""
        if connections == self.config.pool_size:
            return self
        return MirrorTable(replace(self.config, pool_size=connections))

    def expected_index_keys(self, sub: str, attributes: dict[str, str]) -> dict[str, str | None]:
        """The directory keys a row with these attributes must carry under the current setting."""
        return index_keys(sub, attributes, self.config.indexed_attributes)

    def snapshot_item(self, snapshot: UserSnapshot) -> dict[str, Any]:
        """The item `snapshot` is written as (the contract's wire form), directory keys included."""
        return item_from_row(snapshot.row() | self.expected_index_keys(snapshot.sub, snapshot.attributes))

    # --- guarded writes --------------------------------------------------------------------------

    def _guarded(self, write: Callable[[], object], what: str) -> WriteOutcome:
        """A conditional write: SKIPPED when its guard refuses it, WRITTEN when it lands."""
        try:
            write()
        except _DATA_ERRORS as exc:
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                return WriteOutcome.SKIPPED
            raise TableUnavailableError(f"mirror {what} failed: {code}") from exc
        return WriteOutcome.WRITTEN

    def _conditional_put(self, item: dict[str, Any], rule: guard.Guard) -> WriteOutcome:
        condition = guard.condition_expression(rule, int(item["observed_at"]["N"]))
        return self._guarded(
            lambda: self.client.put_item(TableName=self.name, Item=item, **condition), "write"
        )

    def _conditional_update(self, arguments: dict[str, Any], what: str) -> WriteOutcome:
        return self._guarded(lambda: self.client.update_item(TableName=self.name, **arguments), what)

    def put_snapshot(self, snapshot: UserSnapshot) -> WriteOutcome:
        """Store `snapshot` if it is newer than what the mirror holds (idempotent). An UpdateItem
        of the profile's fields and directory keys: the membership stays as it is."""
        return self._conditional_update(guard.snapshot_update(self.snapshot_item(snapshot)), "write")

    def put_snapshots(
        self, snapshots: list[UserSnapshot], *, missing: set[str], memberships: Memberships = None
    ) -> list[WriteOutcome]:
        """Guarded bulk `put_snapshot` (PartiQL, 25 per call), with a sub's membership from `memberships`
        in the same statement; see `models.partiql.put_snapshots`."""
        items = [self.snapshot_item(snapshot) for snapshot in snapshots]
        try:
            return put_snapshots(self.client, self.name, items, missing=missing, memberships=memberships)
        except _DATA_ERRORS as exc:
            raise TableUnavailableError(f"mirror batch write failed: {error_code(exc)}") from exc

    def put_tombstone(self, sub: str, *, observed_at: int, source: str) -> WriteOutcome:
        """Mark `sub` deleted; later or late snapshots never bring it back until the TTL expires."""
        expires = datetime.now(UTC) + timedelta(days=self.config.tombstone_ttl_days)
        tombstone = {KEY: sub, "observed_at": observed_at, "source": source, "deleted": True}
        item = item_from_row(tombstone | {TTL_FIELD: int(expires.timestamp())})
        return self._conditional_put(item, guard.TOMBSTONE)

    def put_groups(self, sub: str, groups: Iterable[str], *, observed_at: int, source: str) -> WriteOutcome:
        """Store `sub`'s whole membership as a writer (`source`, for its own logs: the row's `source`
        is the profile's) observed it in Cognito at `observed_at` (idempotent). Lands only on a
        live row whose membership is unknown or older: a missing row or a tombstone gets none.
        ValueError for a group name Cognito cannot give."""
        del source  # the contract keeps no membership source
        return self._conditional_update(guard.groups_update(sub, groups, observed_at), "membership write")

    def remove_group(self, sub: str, group: str, *, observed_at: int) -> WriteOutcome:
        """Take a deleted `group` out of `sub`'s membership, the deletion observed at `observed_at`
        (idempotent). Lands only on a live row whose known membership is older; the other groups
        stay, the membership's version becomes `observed_at` (an older observation, which may
        still hold the group, can no longer land)."""
        return self._conditional_update(guard.group_removal(sub, group, observed_at), "membership write")

    def revive_tombstone(self, snapshot: UserSnapshot) -> WriteOutcome:
        """Replace a wrong tombstone by `snapshot` (idempotent); the only write that lands on one.

        Call it only with a snapshot AdminGetUser returned for `snapshot.sub` just now: the user
        exists, so the tombstone was wrong (subs are never reused). It lands only on a tombstone older
        than the snapshot: a live or missing row is left to `put_snapshot`, a tombstone written after
        the read (a deletion since) stands, and a second call finds no tombstone. The whole item is
        replaced, so the tombstone's TTL goes with it.
        """
        if is_reserved(snapshot.sub):
            raise ValueError("a reserved engine-state key is not a user")
        return self._conditional_put(self.snapshot_item(snapshot), guard.REVIVE)

    def put_index_keys(self, sub: str, *, observed_at: int, keys: dict[str, str | None]) -> WriteOutcome:
        """Rewrite only a row's directory keys (reindex), guarded on the very snapshot they derive from.

        Lands only on a live row still holding the snapshot observed at `observed_at`: a newer write
        (which carries its own keys) or a tombstone in between makes it a no-op. `observed_at` and
        every other field are left as they are.
        """
        return self._conditional_update(guard.index_keys_update(sub, observed_at, keys), "index write")

    # --- bulk membership writes (the membership guard, models/guard.py) -----------------------

    def put_memberships(self, memberships: list[tuple[str, Membership]]) -> list[WriteOutcome]:
        """Guarded bulk `put_groups` (PartiQL, 25 per call); see `models.partiql.put_memberships`."""
        try:
            return put_memberships(self.client, self.name, memberships)
        except _DATA_ERRORS as exc:
            raise TableUnavailableError(f"mirror batch write failed: {error_code(exc)}") from exc

    # --- reads -----------------------------------------------------------------------------------

    def get_record(self, sub: str, *, consistent: bool = False) -> MirrorRecord | None:
        """The stored row (live or tombstone), or None."""
        try:
            item = self.client.get_item(
                TableName=self.name, Key={"sub": {"S": sub}}, ConsistentRead=consistent
            ).get("Item")
        except _DATA_ERRORS as exc:
            raise TableUnavailableError(f"mirror read failed: {error_code(exc)}") from exc
        return record_from_item(item) if item else None

    def find_subs_by_username(self, username: str) -> list[str]:
        """Subs of the rows whose username is `username` (via the KEYS_ONLY index)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": USERNAME_INDEX,
            "KeyConditionExpression": "#u = :u",
            "ExpressionAttributeNames": {"#u": "username"},
            "ExpressionAttributeValues": {":u": {"S": username}},
        }
        subs: list[str] = []
        try:
            while True:
                response = self.client.query(**kwargs)
                subs += [item["sub"]["S"] for item in response.get("Items", [])]
                if "LastEvaluatedKey" not in response:
                    return subs
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except _DATA_ERRORS as exc:
            raise TableUnavailableError(f"mirror query failed: {error_code(exc)}") from exc

    def get_records(self, subs: list[str]) -> dict[str, MirrorRecord]:
        """The stored rows (live or tombstone) of `subs`, by sub; eventually consistent BatchGetItem."""
        fields = [*FIELDS, *SLOT_NAMES, *GROUP_FIELDS]
        request = {
            "ProjectionExpression": ", ".join(f"#{name}" for name in fields),
            "ExpressionAttributeNames": {f"#{name}": name for name in fields},
        }
        rows: dict[str, MirrorRecord] = {}
        try:
            for start in range(0, len(subs), BATCH_GET_MAX):
                keys = [{"sub": {"S": sub}} for sub in dict.fromkeys(subs[start : start + BATCH_GET_MAX])]
                pending: dict[str, Any] = {self.name: {"Keys": keys, **request}}
                for round_ in range(_UNPROCESSED_ROUNDS):
                    response = self.client.batch_get_item(RequestItems=pending)
                    for item in response.get("Responses", {}).get(self.name, []):
                        row = record_from_item(item)
                        rows[row.sub] = row
                    pending = response.get("UnprocessedKeys") or {}
                    if not pending:
                        break
                    time.sleep(0.05 * 2**round_)
                if pending:
                    raise TableUnavailableError("mirror batch read failed: UnprocessedKeys")
        except _DATA_ERRORS as exc:
            raise TableUnavailableError(f"mirror batch read failed: {error_code(exc)}") from exc
        return rows

    def scan_records(
        self, segment: int, total_segments: int, *, with_index: bool = False
    ) -> Iterator[MirrorRecord]:
        """One segment of a parallel Scan (sub, username, deleted; with `with_index` also what the
        directory keys derive from, and the keys); reserved rows left out.

        Pages are capped at SCAN_PAGE_SIZE rows so memory does not depend on the table's size.
        """
        fields = ["sub", "username", "deleted"]
        if with_index:
            fields += ["attributes", "observed_at", *SLOT_NAMES]
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Segment": segment,
            "TotalSegments": total_segments,
            "Limit": SCAN_PAGE_SIZE,
            "ProjectionExpression": ", ".join(f"#{name}" for name in fields),
            "ExpressionAttributeNames": {f"#{name}": name for name in fields},
        }
        try:
            while True:
                response = self.client.scan(**kwargs)
                for item in response.get("Items", []):
                    if not is_reserved(item["sub"]["S"]):
                        yield record_from_item(item)
                if "LastEvaluatedKey" not in response:
                    return
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except _DATA_ERRORS as exc:
            raise TableUnavailableError(f"mirror scan failed: {error_code(exc)}") from exc

    def query_index(
        self, index: str, key_name: str, partition: str, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One Query page of a GSI partition, in sort-key order: its raw items and LastEvaluatedKey."""
        kwargs = query_request(self.name, index, key_name, partition, limit, start_key)
        try:
            response = self.client.query(**kwargs)
        except _DATA_ERRORS as exc:
            raise TableUnavailableError(f"mirror query failed: {error_code(exc)}") from exc
        return response.get("Items", []), response.get("LastEvaluatedKey")


@lru_cache(maxsize=1)
def table_for_settings(settings: Settings) -> MirrorTable:
    """One table per settings (`table_for_settings.cache_clear()` forgets it, in tests)."""
    return MirrorTable(TableConfig.from_settings(settings))


def mirror_table() -> MirrorTable:
    """The process's table, built once from `get_settings()` (Lambda handlers and their logic)."""
    return table_for_settings(get_settings())
