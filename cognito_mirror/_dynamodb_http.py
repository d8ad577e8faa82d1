"""DynamoDB's JSON protocol over http.client, for the reader's GetItem, Query and BatchGetItem:
no botocore.

Inside Lambda, importing botocore and building its DynamoDB client costs ~400 ms of a cold start;
this client signs (SigV4) and sends the reader's calls with the standard library only. `_aws.py`
decides when it is used. It behaves as the reader's botocore client does: the same connect/read
timeouts and attempts, botocore's standard retry mode (`_retries.py`: throttling, 5xx, connection
errors, a bad CRC32; its jittered exponential backoff and its retry quota, one per client), answers
in botocore's shape (binary values decoded to bytes), and errors whose `response` (service errors)
or type name (connection errors) give `error_code` the codes botocore's would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import threading
import time
import zlib
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from cognito_mirror._retries import RetryQuota, backoff_seconds, is_retryable, is_throttling

SERVICE = "dynamodb"
TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
ALGORITHM = "AWS4-HMAC-SHA256"
# botocore's check of a region name (botocore.utils.validate_region_name).
REGION_NAME = re.compile(r"(?![0-9]+$)(?!-)[a-zA-Z0-9-]{,63}(?<!-)")


class DynamoDBHttpError(Exception):
    """Any failure of this client (named after botocore's exception for the same failure)."""


class ServiceError(DynamoDBHttpError):
    """DynamoDB answered an error: `response` is botocore's ClientError.response shape."""

    def __init__(self, operation: str, response: dict[str, Any]) -> None:
        error = response["Error"]
        super().__init__(
            f"An error occurred ({error['Code']}) when calling the {operation} operation: {error['Message']}"
        )
        self.response = response
        self.operation_name = operation


class EndpointConnectionError(DynamoDBHttpError):
    """The connection could not be opened (refused, unreachable, DNS)."""


class ConnectTimeoutError(DynamoDBHttpError):
    """The connection was not open within the connect timeout."""


class ReadTimeoutError(DynamoDBHttpError):
    """No answer within the read timeout."""


class ConnectionClosedError(DynamoDBHttpError):
    """The connection broke while sending or reading."""


class ResponseParserError(DynamoDBHttpError):
    """A 200 answer that is not JSON."""


class ChecksumError(DynamoDBHttpError):
    """The body does not match DynamoDB's x-amz-crc32 header on the last attempt."""


class InvalidRegionError(DynamoDBHttpError):
    """The region is not a name botocore would accept (it would break the signature's headers)."""


class NoCredentialsError(DynamoDBHttpError):
    """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not in the environment."""


class Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None = None


def credentials_from_env() -> Credentials:
    """Lambda's credentials, from the environment at each request. Lambda sets them when the
    environment starts and does not change them within it; reading them per request costs
    microseconds and follows any change the runtime might make."""
    access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        raise NoCredentialsError("Unable to locate credentials")
    return Credentials(access, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_headers(
    host: str, region: str, target: str, body: bytes, credentials: Credentials, now: datetime
) -> dict[str, str]:
    """The headers of a signed (SigV4) POST / of DynamoDB's JSON protocol, Authorization included."""
    amz_date = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "content-type": CONTENT_TYPE,
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-target": target,
    }
    if credentials.token:
        headers["x-amz-security-token"] = credentials.token
    names = sorted(headers)
    signed = ";".join(names)
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            *(f"{name}:{' '.join(headers[name].split())}" for name in names),
            "",
            signed,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{SERVICE}/aws4_request"
    to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(("AWS4" + credentials.secret_key).encode(), amz_date[:8])
    for part in (region, SERVICE, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def error_response(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """botocore's parsed error (its JSON protocol parser): code from `__type`, else the status."""
    parsed: Any
    if status >= 500 and (not body.strip() or body.strip().startswith(b"<html>")):
        parsed = {"message": http.client.responses.get(status, "")}  # a proxy's or balancer's page
    else:
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {"message": body.decode("utf-8", "replace")}
    if not isinstance(parsed, dict):
        parsed = {}
    code = str(parsed.get("__type") or status)
    code = code.split(":", 1)[0].rsplit("#", 1)[-1]
    metadata: dict[str, Any] = {"HTTPStatusCode": status, "HTTPHeaders": headers}
    if "x-amzn-requestid" in headers:
        metadata["RequestId"] = headers["x-amzn-requestid"]
    message = parsed.get("message", parsed.get("Message", ""))
    return {"Error": {"Code": code, "Message": str(message)}, "ResponseMetadata": metadata}


def _bytes_to_json(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _binary_values(obj: dict[str, Any]) -> dict[str, Any]:
    # An attribute value is the only JSON object with a string under "B" (or strings under "BS").
    if len(obj) == 1:
        if isinstance(obj.get("B"), str):
            return {"B": base64.b64decode(obj["B"])}
        if isinstance(obj.get("BS"), list):
            return {"BS": [base64.b64decode(v) for v in obj["BS"]]}
    return obj


class DynamoDBHttpClient:
    """`get_item`, `query` and `batch_get_item` (keyword arguments) as botocore's client answers
    them. Thread-safe: each thread keeps one keep-alive connection."""

    def __init__(self, endpoint: str, region: str, connect: float, read: float, attempts: int) -> None:
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("the endpoint must be an http(s) URL")
        self.https = url.scheme == "https"
        self.hostname = url.hostname
        self.port = url.port or (443 if self.https else 80)
        default = 443 if self.https else 80
        self.host = url.hostname if self.port == default else f"{url.hostname}:{self.port}"
        if not REGION_NAME.fullmatch(region):
            raise InvalidRegionError(f"the region {region[:64]!r} is not a region name")
        self.region = region
        self.connect_timeout, self.read_timeout, self.attempts = connect, read, max(1, attempts)
        self.quota = RetryQuota()  # shared by this client's calls, as botocore's client shares one
        self._local = threading.local()

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("GetItem", params)

    def query(self, **params: Any) -> dict[str, Any]:
        return self.call("Query", params)

    def batch_get_item(self, **params: Any) -> dict[str, Any]:
        return self.call("BatchGetItem", params)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """One operation, retried as botocore's standard mode retries it (`_retries.py`)."""
        body = json.dumps(params, separators=(",", ":"), default=_bytes_to_json).encode()
        acquired: int | None = None
        for attempt in range(1, self.attempts + 1):
            throttled, retry_after = False, None
            try:
                status, headers, data = self._send(TARGET_PREFIX + operation, body)
            except (
                EndpointConnectionError,
                ConnectTimeoutError,
                ReadTimeoutError,
                ConnectionClosedError,
            ) as exc:
                error: DynamoDBHttpError = exc
            else:
                crc = headers.get("x-amz-crc32")
                retry_after = headers.get("x-amz-retry-after")
                if crc is not None and crc.isdigit() and int(crc) != zlib.crc32(data) & 0xFFFFFFFF:
                    error = ChecksumError(f"the {operation} answer failed its CRC32 check")
                elif status == 200:
                    self.quota.release(acquired)
                    return self._parsed(operation, headers, data, attempt)
                else:
                    error = ServiceError(operation, error_response(status, headers, data))
                    code = error.response["Error"]["Code"]
                    throttled = is_throttling(status, code)
                    if not is_retryable(status, code):
                        raise error
            if attempt == self.attempts:
                raise error
            acquired = self.quota.acquire(throttled)
            if acquired is None:
                raise error
            time.sleep(backoff_seconds(attempt, throttled, retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _parsed(operation: str, headers: dict[str, str], data: bytes, attempt: int) -> dict[str, Any]:
        try:
            parsed = json.loads(data, object_hook=_binary_values) if data else {}
        except ValueError as exc:
            raise ResponseParserError(f"the {operation} answer is not JSON") from exc
        if not isinstance(parsed, dict):
            raise ResponseParserError(f"the {operation} answer is not a JSON object")
        parsed["ResponseMetadata"] = {
            "RequestId": headers.get("x-amzn-requestid", ""),
            "HTTPStatusCode": 200,
            "HTTPHeaders": headers,
            "RetryAttempts": attempt - 1,
        }
        return parsed

    def _send(self, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """One signed POST on this thread's connection: a kept-alive connection that the server
        has closed meanwhile is reopened once (every call is a read), not counted as an attempt."""
        headers = signed_headers(
            self.host, self.region, target, body, credentials_from_env(), datetime.now(UTC)
        )
        while True:
            conn, reused = self._connection()
            try:
                conn.request("POST", "/", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except TimeoutError as exc:
                conn.close()
                raise ReadTimeoutError(f"Read timeout on endpoint URL: {self.host}") from exc
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                if reused:
                    continue
                raise ConnectionClosedError(f"Connection closed by endpoint URL: {self.host}") from exc
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.https:
                import ssl

                # Certificates verified: against AWS_CA_BUNDLE when set (as botocore does), else the
                # system's store (botocore would use its own copy of Mozilla's; Amazon's roots are in both).
                context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
                conn = http.client.HTTPSConnection(
                    self.hostname, self.port, timeout=self.connect_timeout, context=context
                )
            else:
                conn = http.client.HTTPConnection(self.hostname, self.port, timeout=self.connect_timeout)
            self._local.conn = conn
        if conn.sock is not None:
            return conn, True
        # http.client has one timeout: the connect timeout while connecting, then the read timeout.
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise ConnectTimeoutError(f"Connect timeout on endpoint URL: {self.host}") from exc
        except OSError as exc:
            conn.close()
            raise EndpointConnectionError(f"Could not connect to the endpoint URL: {self.host}") from exc
        assert conn.sock is not None
        conn.sock.settimeout(self.read_timeout)
        return conn, False
