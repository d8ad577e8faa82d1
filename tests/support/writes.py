"""What each function's code writes to DynamoDB, recorded from the write paths themselves.

`written_attributes(writers)` runs `models.table.MirrorTable` / `models.state.StateTable` write
methods against a recording client and returns every top-level attribute they name (items, PartiQL
statements, condition expressions): the list a role's `dynamodb:Attributes` condition must allow.
`ROLE_WRITES` says which write paths each function runs, per table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from models.partiql import Membership
from models.state import StateTable
from models.table import MirrorTable, TableConfig
from models.user import UserSnapshot

# Enough indexed attributes to fill every directory slot.
INDEXED = ("email", "custom:tenant", "phone_number")
SNAPSHOT = UserSnapshot(
    sub="4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11",
    username="jane.doe",
    attributes={"email": "jane@example.com", "custom:tenant": "acme", "phone_number": "+15550100"},
    status="CONFIRMED",
    enabled=True,
    observed_at=1_764_000_000_000_000,
    source="test",
)


class RecordingClient:
    """Records the attribute names each write names; answers as if every write landed."""

    def __init__(self) -> None:
        self.attributes: set[str] = set()

    def _expression_names(self, call: dict[str, Any]) -> None:
        self.attributes.update(call.get("ExpressionAttributeNames", {}).values())
        assert call.get("ReturnValues", "NONE") == "NONE", "a write returns nothing"

    def put_item(self, **call: Any) -> dict[str, Any]:
        self.attributes.update(call["Item"])
        self._expression_names(call)
        return {}

    def update_item(self, **call: Any) -> dict[str, Any]:
        self.attributes.update(call["Key"])
        self._expression_names(call)
        return {}

    def delete_item(self, **call: Any) -> dict[str, Any]:
        self.attributes.update(call["Key"])
        self._expression_names(call)
        return {}

    def batch_execute_statement(self, Statements: list[dict[str, Any]]) -> dict[str, Any]:
        for statement in Statements:
            text = statement["Statement"]
            table = re.search(r'(?:INTO|UPDATE) "([^"]+)"', text)
            assert table is not None and "RETURNING" not in text
            names = set(re.findall(r'"([^"]+)"', text)) | set(re.findall(r"'([^']+)':", text))
            self.attributes.update(names - {table.group(1)})
        return {"Responses": [{} for _ in Statements]}


Writer = Callable[[MirrorTable, StateTable], object]


def written_attributes(writers: list[Writer]) -> set[str]:
    client = RecordingClient()
    config = TableConfig(table_name="mirror", region="eu-west-1", indexed_attributes=INDEXED)
    table, state = MirrorTable(config), StateTable(config)
    table._client = state._client = client
    for write in writers:
        write(table, state)
    return client.attributes


def put_snapshot(table: MirrorTable, _: StateTable) -> object:
    return table.put_snapshot(SNAPSHOT)


def put_tombstone(table: MirrorTable, _: StateTable) -> object:
    return table.put_tombstone(SNAPSHOT.sub, observed_at=SNAPSHOT.observed_at, source="test")


def put_snapshots(table: MirrorTable, _: StateTable) -> object:
    # INSERT for a missing row, guarded UPDATE for an existing one (both PartiQL forms).
    return table.put_snapshots([SNAPSHOT], missing={SNAPSHOT.sub}) + table.put_snapshots(
        [SNAPSHOT], missing=set()
    )


def put_groups(table: MirrorTable, _: StateTable) -> object:
    # A membership with groups (SET) and without (REMOVE), then one deleted group (DELETE).
    at = SNAPSHOT.observed_at
    return [
        table.put_groups(SNAPSHOT.sub, ["admin"], observed_at=at, source="test"),
        table.put_groups(SNAPSHOT.sub, [], observed_at=at, source="test"),
    ]


def remove_group(table: MirrorTable, _: StateTable) -> object:
    return table.remove_group(SNAPSHOT.sub, "admin", observed_at=SNAPSHOT.observed_at)


def write_memberships(table: MirrorTable, _: StateTable) -> object:
    # A membership with a snapshot (both PartiQL forms) and alone (PartiQL, UpdateItem).
    membership = Membership(("admin",), SNAPSHOT.observed_at)
    with_snapshot = {SNAPSHOT.sub: membership}
    table.put_snapshots([SNAPSHOT], missing={SNAPSHOT.sub}, memberships=with_snapshot)
    table.put_snapshots([SNAPSHOT], missing=set(), memberships=with_snapshot)
    table.put_memberships([(SNAPSHOT.sub, membership)])
    return table.put_groups(SNAPSHOT.sub, ("admin",), observed_at=SNAPSHOT.observed_at, source="test")


def revive_tombstone(table: MirrorTable, _: StateTable) -> object:
    return table.revive_tombstone(SNAPSHOT)


def write_layout(table: MirrorTable, _: StateTable) -> object:
    from models.directory_layout import write_layout as write

    write(table, INDEXED)
    return None


def put_membership(table: MirrorTable, _: StateTable) -> object:
    """The projection's writes: a membership added, and one removed (with its TTL)."""
    from models.group_members import GroupMembersTable

    members = GroupMembersTable(table.config)
    members.client = table.client
    members.put_membership("admin", SNAPSHOT.sub, member=True, observed_at=SNAPSHOT.observed_at)
    return members.put_membership("admin", SNAPSHOT.sub, member=False, observed_at=SNAPSHOT.observed_at)


def save_state(_: MirrorTable, state: StateTable) -> object:
    state.save("reconcile", "{}")
    state.save("reconcile", None)
    return None


# Which write paths each function runs, per table it writes (functions/ and functions/common/).
ROLE_WRITES: dict[str, dict[str, list[Writer]]] = {
    "postConfirmation": {"table": [put_snapshot]},
    "postAuthentication": {"table": [put_snapshot]},
    "api": {"table": [put_snapshot]},  # the in-process repair of a miss
    "repairUser": {"table": [put_snapshot]},
    "attributeSync": {"table": [put_snapshot, put_tombstone, put_groups, remove_group]},
    "directoryLayout": {"table": [write_layout]},  # the deploy-time layout record
    "groupMembers": {"members-table": [put_membership]},  # the group-members projection
    "reconcile": {
        "table": [put_snapshot, put_snapshots, revive_tombstone, put_tombstone, write_memberships],
        "state-table": [save_state],
    },
}
