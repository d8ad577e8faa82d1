"""The engine's own state table: one row per key (`key`, `state`, `expires_at`), apart from users.

The scheduled reconcile keeps its progress across invocations here. Only the reconcile role may
read or write it; an abandoned state expires by itself (TTL).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from models.errors import MalformedStateError, TableUnavailableError, error_code
from models.settings import ConfigurationError, Settings
from models.table import TableConfig, table_client


class StateTable:
    """Strings stored under keys, read consistently."""

    def __init__(self, config: TableConfig) -> None:
        self.name = config.table_name
        self.config = config
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = table_client(self.config)
        return self._client

    def load(self, key: str) -> str | None:
        """The state stored under `key`, or None; MalformedStateError if it is not a string."""
        try:
            item = self.client.get_item(
                TableName=self.name, Key={"key": {"S": key}}, ConsistentRead=True
            ).get("Item")
        except (BotoCoreError, ClientError) as exc:
            raise TableUnavailableError(f"state read failed: {error_code(exc)}") from exc
        if not item or "state" not in item:
            return None
        if "S" not in item["state"]:
            raise MalformedStateError("the stored state is not a string")
        return str(item["state"]["S"])

    def save(self, key: str, state: str | None) -> None:
        """Store (or with None, remove) the state under `key`; it expires like a tombstone (TTL)."""
        try:
            if state is None:
                self.client.delete_item(TableName=self.name, Key={"key": {"S": key}})
                return
            expires = datetime.now(UTC) + timedelta(days=self.config.tombstone_ttl_days)
            item = {
                "key": {"S": key},
                "state": {"S": state},
                "expires_at": {"N": str(int(expires.timestamp()))},
            }
            self.client.put_item(TableName=self.name, Item=item)
        except (BotoCoreError, ClientError) as exc:
            raise TableUnavailableError(f"state write failed: {error_code(exc)}") from exc


@lru_cache(maxsize=1)
def state_table_for_settings(settings: Settings) -> StateTable:
    """One state table per settings (`state_table_for_settings.cache_clear()` forgets it, in tests)."""
    if settings.state_table_name is None:
        raise ConfigurationError("MIRROR_STATE_TABLE is not set: the reconcile needs its state table")
    return StateTable(replace(TableConfig.from_settings(settings), table_name=settings.state_table_name))
