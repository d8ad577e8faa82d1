"""The published record contract (schemas/mirror-record.v1.json) and stored rows as plain JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "mirror-record.v1.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
WRITERS = {
    "post_confirmation",
    "post_authentication",
    "read_through",
    "attribute_sync",
    "reconcile",
    "backfill",
}


def plain(value: Any) -> Any:
    """DynamoDB's deserialized value as plain JSON: integral Decimals become ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, set):  # a string set (groups): JSON has arrays only
        return sorted(plain(item) for item in value)
    return value


def as_json(item: dict[str, Any]) -> dict[str, Any]:
    deserializer = TypeDeserializer()
    row: dict[str, Any] = plain({name: deserializer.deserialize(value) for name, value in item.items()})
    return row


def schema_errors(row: dict[str, Any]) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(row)]


def assert_valid(row: dict[str, Any]) -> None:
    assert schema_errors(row) == [], row.get("sub")
    assert row["source"] in WRITERS
