"""The record contract (cognito_mirror.record) is the one the stack deploys, publishes and writes:
the table's keys and indexes in serverless.yml, the fields of schemas/mirror-record.v1.json, the
PynamoDB model the engine reads rows back with; and its codec reads an item as boto3's deserializer
does and writes the item it reads."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from cognito_mirror import Profile
from cognito_mirror.directory import plan_query, read_page
from cognito_mirror.record import (
    FIELDS,
    GROUP_FIELDS,
    INDEXES,
    KEY,
    SLOT_NAMES,
    TTL_FIELD,
    is_tombstone,
    item_from_row,
    row_from_item,
)
from models.record import MirrorRecord, record_from_item
from models.user import UserSnapshot
from scripts.table import table_properties
from tests.support.record_schema import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("functions", "models", "scripts", "bench", "examples", "tests/support")

ITEM: dict[str, Any] = {
    "sub": {"S": "u-1"},
    "username": {"S": "ada"},
    "attributes": {"M": {"email": {"S": "ada@example.com"}, "odd": {"N": "1"}}},
    "status": {"S": "CONFIRMED"},
    "enabled": {"BOOL": True},
    "observed_at": {"N": "1700000000123456"},
    "source": {"S": "reconcile"},
    "deleted": {"BOOL": False},
    "groups": {"SS": ["support", "admin"]},
    "groups_observed_at": {"N": "1700000000654321"},
    "dir0": {"S": "email#ada@example.com"},
}


def test_the_table_in_serverless_yml_has_the_contracts_key_indexes_and_ttl() -> None:
    # Given the deployed table's definition
    table = table_properties()
    # Then its key is the contract's, its indexes are exactly the contract's, keyed the same way
    assert table["KeySchema"] == [{"AttributeName": KEY, "KeyType": "HASH"}]
    deployed = {
        index["IndexName"]: tuple(key["AttributeName"] for key in index["KeySchema"])
        for index in table["GlobalSecondaryIndexes"]
    }
    assert deployed == {name: tuple(k for k in keys if k) for name, keys in INDEXES.items()}
    assert table["TimeToLiveSpecification"]["AttributeName"] == TTL_FIELD
    # And every key attribute it declares is a contract field or a directory slot
    declared = {attribute["AttributeName"] for attribute in table["AttributeDefinitions"]}
    assert declared <= {*FIELDS, *SLOT_NAMES}


def test_the_published_schema_names_exactly_the_contracts_fields() -> None:
    # Given the record's JSON Schema
    defs = SCHEMA["$defs"]
    # Then a live user holds the contract's fields and directory slots, a tombstone its key fields
    # and the TTL, and nothing else
    assert set(defs["user"]["properties"]) == {*FIELDS, *GROUP_FIELDS, *SLOT_NAMES}
    assert set(defs["tombstone"]["properties"]) == {KEY, "observed_at", "source", "deleted", TTL_FIELD}


def test_the_pynamodb_model_reads_the_contracts_attribute_names() -> None:
    # Given the engine's model of a stored row
    names = {attribute.attr_name for attribute in MirrorRecord.get_attributes().values()}
    # Then it models the contract's fields, the membership, the TTL and the directory slots, nothing else
    assert names == {*FIELDS, *GROUP_FIELDS, TTL_FIELD, *SLOT_NAMES}


def test_the_codec_reads_an_item_as_boto3s_deserializer_does() -> None:
    # Given an item in DynamoDB's wire format
    plain = {name: TypeDeserializer().deserialize(value) for name, value in ITEM.items()}
    # When the contract reads it
    row = row_from_item(ITEM)
    # Then every field is the deserialized value (attributes: string values only)
    assert set(row) == {*FIELDS, *GROUP_FIELDS}
    assert row == {name: plain[name] for name in FIELDS} | {
        "attributes": {"email": "ada@example.com"},
        "groups": ("admin", "support"),
        "groups_observed_at": plain["groups_observed_at"],
    }
    assert row["observed_at"] == Decimal("1700000000123456")


def test_the_codec_writes_back_the_item_it_reads() -> None:
    # Given an item of the contract (attributes holding strings only, as the mirror writes them)
    item = {**ITEM, "attributes": {"M": {"email": {"S": "ada@example.com"}}}}
    # When the contract reads its row and writes it with its directory key (the row holds none)
    written = item_from_row(row_from_item(item) | {"dir0": "email#ada@example.com"})
    # Then the item is the same, its string set in order
    assert written == {**item, "groups": {"SS": ["admin", "support"]}}


def test_the_codec_leaves_out_what_a_row_does_not_hold_and_refuses_what_it_cannot() -> None:
    # Given a row without a username, with no group, and one holding a float
    row = {**row_from_item(ITEM), "username": None, "groups": ()}
    # When the contract writes them
    # Then the missing username and the empty set (DynamoDB holds none) are not in the item
    assert "username" not in item_from_row(row)
    assert "groups" not in item_from_row(row)
    try:
        item_from_row({**row, "observed_at": 1.5})
    except TypeError as exc:
        assert "float" in str(exc)
    else:
        raise AssertionError("a float is not a value of a mirror row")


def test_the_engines_model_reads_the_row_a_snapshot_is_written_as() -> None:
    # Given a snapshot, written as the contract's item with a directory key
    snapshot = UserSnapshot(
        "u-2", "bo", {"email": "bo@example.com"}, "CONFIRMED", True, 1700000000000001, "backfill"
    )
    item = item_from_row(snapshot.row() | {"dir0": "email#bo@example.com", "dir1": None})
    # When the engine's PynamoDB model and the contract read it back
    record = record_from_item(item)
    # Then both give the snapshot back, and the model sees the directory key it holds
    assert record.to_snapshot() == snapshot == UserSnapshot.from_row(row_from_item(item))
    assert not record.is_tombstone
    assert record.stored_index_keys() == {"dir0": "email#bo@example.com", "dir1": None, "dir2": None}


def test_groups_are_unknown_without_their_version_and_none_when_known_but_absent() -> None:
    # Given a row with no membership version, and one whose membership is known but empty
    unknown = {**ITEM, "groups": {"SS": ["admin"]}}
    del unknown["groups_observed_at"]
    empty = {name: value for name, value in ITEM.items() if name != "groups"}
    # When the contract reads them
    # Then the first's groups are unknown (None), the second's are no group at all
    assert row_from_item(unknown)["groups"] is None
    assert row_from_item(empty)["groups"] == ()


def test_the_profile_and_the_snapshot_of_an_item_are_read_from_the_same_row() -> None:
    # Given a live item
    # When the library and the stack read it
    profile, snapshot = Profile.from_item(ITEM), UserSnapshot.from_row(row_from_item(ITEM))
    # Then both carry the same user
    assert (profile.sub, profile.username, dict(profile.attributes), profile.status, profile.enabled) == (
        snapshot.sub,
        snapshot.username,
        snapshot.attributes,
        snapshot.status,
        snapshot.enabled,
    )
    assert profile.updated_at == "2023-11-14T22:13:20.123Z"
    assert snapshot.observed_at == 1700000000123456


def test_a_directory_page_lists_live_users_only_never_a_tombstone_or_a_reserved_row() -> None:
    # Given an index partition holding a tombstone, a reserved row and a live user
    tombstone = {**ITEM, "sub": {"S": "u-0"}, "deleted": {"BOOL": True}}
    reserved = {**ITEM, "sub": {"S": "#directory-layout"}}
    reads: list[tuple[str, str, str]] = []

    def query_page(index: str, key: str, partition: str, limit: int, start: Any) -> Any:
        reads.append((index, key, partition))
        return [tombstone, reserved, ITEM], None

    query = plan_query(
        query_page, ("email",), "email", "Ada@Example.com", limit=10, max_limit=10, include_unverified=True
    )
    # When a page is read
    page = read_page(query)
    # Then only the live user is listed, from the e-mail's one partition, and the listing is complete
    assert [row["sub"] for row in page.rows] == ["u-1"] and page.next is None
    assert reads == [("directory-0", "dir0", "email#ada@example.com")]
    assert is_tombstone(tombstone) and not is_tombstone(ITEM)


def _private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno} {name}"
            for name in names
            if name.startswith("cognito_mirror.") and name.split(".")[1].startswith("_")
        ]
    return found


def test_nothing_outside_the_library_imports_its_private_modules() -> None:
    # Given every module the stack ships or runs (and the tests' shared helpers)
    files = [path for folder in SHIPPED for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) > 50
    # When their imports are read
    private = [found for path in files for found in _private_imports(path)]
    # Then none reaches a private module of cognito_mirror
    assert private == []
