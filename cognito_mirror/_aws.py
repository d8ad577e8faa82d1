"""AWS for the library: bounded clients (no boto3 import of its own), items, error codes for logs."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Mapping
from typing import Any

from cognito_mirror._config import env, reader_http_from_env

# Regions whose DynamoDB endpoint is dynamodb.<region>.amazonaws.com(.cn); any other partition's
# endpoints (ISO, sovereign clouds) are left to botocore's endpoint rules.
_PLAIN_REGION = re.compile(r"(?:af|ap|ca|cn|eu|il|me|mx|sa|us)-(?:gov-)?(?!iso)[a-z]+-\d{1,2}")

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


def dynamodb_client(region: str | None, connect: float, read: float, attempts: int) -> Any:
    """The reader's DynamoDB client: botocore-free inside Lambda when `http_endpoint` allows it."""
    endpoint = http_endpoint(region)
    if endpoint is None or region is None:
        return bounded_client("dynamodb", region, connect, read, attempts)
    from cognito_mirror._dynamodb_http import DynamoDBHttpClient

    return DynamoDBHttpClient(endpoint, region, connect, read, attempts)


def http_endpoint(region: str | None) -> str | None:
    """The endpoint the botocore-free client would call, or None when botocore must read.

    Only inside Lambda (AWS_LAMBDA_FUNCTION_NAME) with the credentials Lambda puts in the
    environment, and only for what the client can reach as botocore would: an explicit endpoint
    (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL) or a plain regional one; never FIPS or dual-stack.
    MIRROR_READER_HTTP=botocore turns it off.
    """
    if reader_http_from_env() == "botocore":
        return None
    if not (env("AWS_LAMBDA_FUNCTION_NAME") and env("AWS_ACCESS_KEY_ID") and env("AWS_SECRET_ACCESS_KEY")):
        return None
    if _true("AWS_USE_FIPS_ENDPOINT") or _true("AWS_USE_DUALSTACK_ENDPOINT"):
        return None
    if not _true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        explicit = env("AWS_ENDPOINT_URL_DYNAMODB") or env("AWS_ENDPOINT_URL")
        if explicit is not None:
            return explicit if re.fullmatch(r"https?://[^/?#\s]+/?", explicit) else None
    if region is None or not _PLAIN_REGION.fullmatch(region):
        return None
    return f"https://dynamodb.{region}.amazonaws.com{'.cn' if region.startswith('cn-') else ''}"


def _true(name: str) -> bool:
    return (env(name) or "").lower() == "true"


def client_errors() -> tuple[type[Exception], ...]:
    """What the reader's clients raise when a call fails: botocore's errors once botocore is loaded,
    the botocore-free client's once it is (an exception of a module never imported cannot occur,
    and looking them up must not import botocore)."""
    errors: list[type[Exception]] = []
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None:
        errors += [botocore.BotoCoreError, botocore.ClientError]
    http = sys.modules.get("cognito_mirror._dynamodb_http")
    if http is not None:
        errors.append(http.DynamoDBHttpError)
    return tuple(errors)


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
