"""AWS for the library: bounded clients (no boto3 import of its own), items and answers, the
library's error for a failed call (with its code for logs)."""

from __future__ import annotations

import json
import re
import sys
import threading
import zlib
from collections.abc import Mapping
from typing import Any

from cognito_mirror._config import env, reader_http_from_env
from cognito_mirror._errors import ConfigurationError, MirrorError, MirrorUnavailableError

# Regions whose DynamoDB endpoint is dynamodb.<region>.amazonaws.com(.cn); any other partition's
# endpoints (ISO, sovereign clouds) are left to botocore's endpoint rules.
_PLAIN_REGION = re.compile(r"(?:af|ap|ca|cn|eu|il|me|mx|sa|us)-(?:gov-)?(?!iso)[a-z]+-\d{1,2}")

# Failures no retry can fix: the deployment is wrong (permissions, table, credentials, region).
MISCONFIGURATION_CODES = frozenset(
    {
        "AccessDeniedException",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "ValidationException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "NoCredentialsError",
        "PartialCredentialsError",
        "InvalidRegionError",
    }
)
_SCALAR_TYPES: dict[str, Any] = {"S": str, "N": str, "B": (str, bytes), "BOOL": bool, "NULL": bool}
_SET_TYPES: dict[str, Any] = {"SS": str, "NS": str, "BS": (str, bytes)}
_MAX_DEPTH = 32

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
        client = bounded_client("dynamodb", region, connect, read, attempts)
        client.meta.events.register("before-parse.dynamodb", _refuse_unrecognised_answer)
        return client
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


def answered_items(operation: str, answer: Any) -> list[Mapping[str, Any]]:
    """GetItem's item (none or one), a Query page's items or a BatchGetItem answer's items (of every
    table). An answer of another shape is DynamoDB (or whatever answered in its place) failing:
    MirrorUnavailableError, as a 5xx."""
    problem = answer_problem(operation, answer)
    if problem is not None:
        raise MirrorUnavailableError(f"mirror {operation} failed: ResponseParserError ({problem})")
    return _items(operation, answer)


def _items(operation: str, answer: Mapping[str, Any]) -> list[Any]:
    if operation == "Query":
        return list(answer["Items"])
    if operation == "BatchGetItem":
        return [item for items in answer["Responses"].values() for item in items]
    return [answer["Item"]] if "Item" in answer else []


def answer_problem(operation: str, answer: Any) -> str | None:
    """Why `answer` is not DynamoDB's GetItem/Query/BatchGetItem answer for mirror rows, or None
    when it is."""
    if not isinstance(answer, Mapping):
        return "not a JSON object"
    if operation == "Query" and not isinstance(answer.get("Items"), list):
        return "a Query answer without Items"
    if operation == "BatchGetItem":
        responses = answer.get("Responses")
        if not isinstance(responses, Mapping) or not all(isinstance(v, list) for v in responses.values()):
            return "a BatchGetItem answer without Responses"
    if not all(_is_row(item) for item in _items(operation, answer)):
        return "an item that is not a mirror row"
    return None


def _is_row(item: Any) -> bool:
    return (
        isinstance(item, Mapping)
        and isinstance(item.get("sub"), Mapping)
        and isinstance(item["sub"].get("S"), str)
        and all(isinstance(name, str) and _is_value(value, 0) for name, value in item.items())
    )


def _is_value(value: Any, depth: int) -> bool:
    """An attribute value in DynamoDB's wire format ({"S": "..."}, {"M": {...}}, ...)."""
    if not isinstance(value, Mapping) or len(value) != 1 or depth > _MAX_DEPTH:
        return False
    ((kind, inner),) = value.items()
    if kind in _SCALAR_TYPES:
        return isinstance(inner, _SCALAR_TYPES[kind])
    if kind in _SET_TYPES:
        return isinstance(inner, list) and all(isinstance(v, _SET_TYPES[kind]) for v in inner)
    if kind == "M":
        return isinstance(inner, Mapping) and all(_is_value(v, depth + 1) for v in inner.values())
    return kind == "L" and isinstance(inner, list) and all(_is_value(v, depth + 1) for v in inner)


def _refuse_unrecognised_answer(operation_model: Any, response_dict: Mapping[str, Any], **_: Any) -> None:
    """botocore reads a 200 that is not JSON as an empty answer (a GetItem miss) and fails on JSON of
    another shape: such an answer is refused (MirrorUnavailableError) before botocore parses it; a
    bad CRC32 is left to botocore's retry."""
    body, headers = response_dict.get("body") or b"", response_dict.get("headers") or {}
    if response_dict.get("status_code") != 200:
        return
    crc = headers.get("x-amz-crc32")
    if crc is not None and crc.isdigit() and int(crc) != zlib.crc32(body) & 0xFFFFFFFF:
        return
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = None
    answered_items(operation_model.name, answer)


def dependency_error(exc: BaseException, action: str) -> MirrorError:
    """The library's error for a failed DynamoDB call: ConfigurationError (500) when no retry can
    fix it (MISCONFIGURATION_CODES), else MirrorUnavailableError (503, retry later)."""
    code = error_code(exc)
    if code in MISCONFIGURATION_CODES:
        return ConfigurationError(f"{action} refused: {code}")
    return MirrorUnavailableError(f"{action} failed: {code}")


def error_code(exc: BaseException) -> str:
    """AWS's error code of a failed call (`ThrottlingException`), else the exception's type name
    (a botocore error without a response, or any other exception)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str) and code:
            return code
    return type(exc).__name__
