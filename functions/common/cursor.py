"""Opaque, signed cursors of GET /users: a directory Continuation bound to its query, for one hour.

A cursor is `<payload>.<mac>`, both base64url: the payload is the Continuation (shard and the index's
LastEvaluatedKey) and the time it was issued, the mac an HMAC-SHA256 over the query (attribute,
normalised value, whether unverified addresses are included) and the payload. A cursor altered,
forged, or taken from another query (another tenant, another value) fails the mac and is refused
("invalid for this query"); a genuine one older than CURSOR_LIFETIME_SECONDS is refused as expired.
The data layer checks the key's partition again.

The key, in this order: MIRROR_CURSOR_KEY (an explicit key); the stack's secret
(MIRROR_CURSOR_KEY_SECRET, its ARN), read once per container with GetSecretValue when a cursor is
first needed; else a random key per container (cursors then fail on another container).
`container_key.cache_clear()` forgets the container's key (a cold start, in tests).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from functools import cache
from typing import Any

from cognito_mirror.aws_errors import client_errors, error_code
from cognito_mirror.record import normalise_value
from models.aws import bounded_config, create_client
from models.directory import Continuation
from models.errors import DependencyUnavailableError
from models.settings import ClientBounds, get_settings

# A LastEvaluatedKey of the directory holds a sub and a key of at most 2048 bytes.
MAX_CURSOR_CHARS = 4096
# How long a cursor may be used after its page was served: long enough to page through any listing,
# short enough that an old link is refused rather than resumed against changed data.
CURSOR_LIFETIME_SECONDS = 3600


class CursorError(ValueError):
    """The cursor is malformed, altered, expired, or belongs to another query."""


def _now() -> int:
    return int(time.time())


def _key() -> bytes:
    settings = get_settings()
    if settings.cursor_key:
        return settings.cursor_key
    return container_key(settings.cursor_key_secret or "")


@cache
def container_key(secret_arn: str) -> bytes:
    """The container's key without an explicit one: the secret's (a failure is not cached: the next
    request tries again), else a random key.

    Two first calls at once may both build it (the cache holds no lock while building). Lambda runs
    one request per container at a time, so there they cannot; in a threaded host the secret would be
    read twice (the same key), and without a secret a cursor signed with the random key that lost
    would be refused as invalid for its query (the listing restarts): the random key is already the
    mode in which cursors do not outlive their container.
    """
    return _read_secret(secret_arn) if secret_arn else secrets.token_bytes(32)


def _read_secret(arn: str) -> bytes:
    """The stack's cursor key (a failure is not cached: the next request tries again)."""
    config = bounded_config(ClientBounds(connect_timeout=0.5, read_timeout=1.0, max_attempts=2))
    try:
        client: Any = create_client("secretsmanager", region=get_settings().region, config=config)
        secret = client.get_secret_value(SecretId=arn)["SecretString"]
    except client_errors() as exc:
        raise DependencyUnavailableError(f"cursor key unavailable: {error_code(exc)}") from exc
    return str(secret).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(attribute: str, value: str, unverified: bool, payload: bytes) -> bytes:
    query = json.dumps([attribute, normalise_value(attribute, value), unverified]).encode()
    return hmac.new(_key(), query + b"\n" + payload, hashlib.sha256).digest()


def encode_cursor(attribute: str, value: str, after: Continuation, *, unverified: bool = False) -> str:
    fields = {"s": after.shard, "k": after.last_key, "t": _now()}
    payload = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(attribute, value, unverified, payload))}"


def decode_cursor(attribute: str, value: str, cursor: str, *, unverified: bool = False) -> Continuation:
    """The Continuation of an unexpired cursor this API issued for this very query, else CursorError."""
    encoded, dot, mac = cursor.partition(".")
    if len(cursor) > MAX_CURSOR_CHARS or not dot:
        raise CursorError("malformed cursor")
    try:
        payload, signature = _unb64(encoded), _unb64(mac)
    except (binascii.Error, ValueError) as exc:
        raise CursorError("malformed cursor") from exc
    # One spelling per cursor: base64's spare bits and padding would let altered text decode alike.
    if _b64(payload) != encoded or _b64(signature) != mac:
        raise CursorError("malformed cursor")
    if not hmac.compare_digest(signature, _mac(attribute, value, unverified, payload)):
        raise CursorError("the cursor is invalid for this query: start the listing again")
    decoded = json.loads(payload)
    issued = decoded.get("t")
    if not isinstance(issued, int) or _now() - issued > CURSOR_LIFETIME_SECONDS:
        raise CursorError("cursor expired: start the listing again")
    return Continuation(shard=decoded["s"], last_key=decoded["k"])
