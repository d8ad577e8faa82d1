"""AWS for the library: bounded clients (no boto3 import of its own), items, error codes for logs."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Any

_session: Any = None
_session_lock = threading.Lock()


def bounded_client(service: str, region: str | None, connect: float, read: float, attempts: int) -> Any:
    """A client whose calls give up after `attempts` tries of `connect` + `read` seconds.

    From boto3's default session when the process already imported boto3 (the user's own clients
    share its loaded service data), else from one botocore session: importing boto3 (its resources
    layer, s3transfer) would add to every cold start and nothing to a GetItem or an invoke. Sessions
    are not thread-safe: clients are made under one lock.
    """
    global _session
    from botocore.config import Config

    config = Config(
        connect_timeout=connect,
        read_timeout=read,
        retries={"mode": "standard", "total_max_attempts": attempts},
    )
    with _session_lock:
        boto3 = sys.modules.get("boto3")
        if boto3 is not None:
            return boto3.client(service, region_name=region, config=config)
        if _session is None:
            from botocore.session import Session

            _session = Session()
        return _session.create_client(service, region_name=region, config=config)


def is_tombstone(item: Mapping[str, Any]) -> bool:
    """A mirror item (DynamoDB's wire format) that records a deleted user."""
    return bool(item.get("deleted", {}).get("BOOL"))


def error_code(exc: BaseException) -> str:
    """AWS's error code of a failed call (`ThrottlingException`), else the exception's type name
    (a botocore error without a response, or any other exception)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str) and code:
            return code
    return type(exc).__name__
