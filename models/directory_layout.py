"""The directory's layout record on the mirror's side: written by the stack at deploy, checked before
a query so that a setting that disagrees with the table's fails loudly instead of finding nobody.

The record (its format: cognito_mirror/directory_layout.py) is a reserved row, skipped by every
reader, holding the ordered indexed attributes the table's rows were keyed with. Only the deploy-time function
(functions/directory_layout.py) may write it: every other role is denied writes of reserved keys.
A table without the record (deployed before it existed, or the local stack) is not checked.
See docs/DIRECTORY.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from botocore.exceptions import BotoCoreError, ClientError

from cognito_mirror.directory_layout import LAYOUT_SUB, layout_error, layout_item, layout_of
from models.errors import TableUnavailableError, error_code
from models.settings import ConfigurationError
from models.table import MirrorTable


def write_layout(table: MirrorTable, indexed: Sequence[str]) -> None:
    """Record the table's layout (a whole-item put: the newest deploy's layout wins)."""
    try:
        table.client.put_item(TableName=table.name, Item=layout_item(indexed))
    except (BotoCoreError, ClientError) as exc:
        raise TableUnavailableError(f"mirror write failed: {error_code(exc)}") from exc
    _stored_layout.cache_clear()


@lru_cache(maxsize=8)
def _stored_layout(table: MirrorTable) -> tuple[tuple[str, ...] | None]:
    """The table's recorded layout, read once per table object (a failure is not cached)."""
    try:
        item = table.client.get_item(TableName=table.name, Key={"sub": {"S": LAYOUT_SUB}}).get("Item")
    except (BotoCoreError, ClientError) as exc:
        raise TableUnavailableError(f"mirror query failed: {error_code(exc)}") from exc
    return (layout_of(item),)


def check_layout(table: MirrorTable, attribute: str, slot: int) -> None:
    """ConfigurationError when the table indexes `attribute` elsewhere than `slot`, or not at all."""
    (stored,) = _stored_layout(table)
    problem = None if stored is None else layout_error(stored, attribute, slot)
    if problem is not None:
        raise ConfigurationError(problem)
