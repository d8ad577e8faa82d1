"""boto3 for the library: clients with bounded timeouts, items as plain values, error codes for logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def bounded_client(service: str, region: str | None, connect: float, read: float, attempts: int) -> Any:
    """A boto3 client whose calls give up after `attempts` tries of `connect` + `read` seconds."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect,
        read_timeout=read,
        retries={"mode": "standard", "total_max_attempts": attempts},
    )
    return boto3.client(service, region_name=region, config=config)  # type: ignore[call-overload]


def plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A low-level DynamoDB item (`{"S": ...}` values) as plain Python values."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    return {name: deserialize(value) for name, value in item.items()}


def error_code(exc: Exception) -> str:
    """AWS's error code of a failed call (`ThrottlingException`), else the exception's type name."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str):
            return code
    return type(exc).__name__
