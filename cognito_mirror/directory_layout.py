"""The directory's layout record: a reserved row (readers skip subs starting with "#") that the stack
writes at deploy (functions/directory_layout.py) with its ordered indexed attributes. A reader or
command configured with another order, or with an attribute the table does not index, would read the
wrong slot and find nobody: it reads this row once and fails loudly instead. docs/DIRECTORY.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["LAYOUT_FIELD", "LAYOUT_SUB", "layout_error", "layout_item", "layout_of"]

LAYOUT_SUB = "#directory-layout"
LAYOUT_FIELD = "indexed_attributes"


def layout_item(indexed: Sequence[str]) -> dict[str, Any]:
    """The layout record in DynamoDB's wire format."""
    return {"sub": {"S": LAYOUT_SUB}, LAYOUT_FIELD: {"S": ",".join(indexed)}}


def layout_of(item: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    """The ordered indexed attributes of a layout record (None: no record, e.g. a stack deployed
    before the record existed: nothing to check against)."""
    if not item or not isinstance(item.get(LAYOUT_FIELD), Mapping):
        return None
    text = item[LAYOUT_FIELD].get("S")
    if not isinstance(text, str):
        return None
    return tuple(name for name in text.split(",") if name)


def layout_error(stored: Sequence[str], attribute: str, slot: int) -> str | None:
    """Why querying slot `slot` for `attribute` cannot work on a table laid out as `stored` (None: it can)."""
    if slot < len(stored) and stored[slot] == attribute:
        return None
    where = f"in slot {stored.index(attribute)}" if attribute in stored else "not at all"
    return (
        f"the mirror's table indexes {attribute!r} {where} (its layout: {','.join(stored) or 'none'}), "
        f"but MIRROR_INDEXED_ATTRIBUTES puts it in slot {slot}: set it to the stack's "
        "DirectoryIndexLayout output"
    )
