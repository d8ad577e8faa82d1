"""Opaque, signed cursors of GET /users: a directory Continuation bound to its query.

A cursor is `<payload>.<mac>`, both base64url: the payload is the Continuation (shard and the index's
LastEvaluatedKey), the mac an HMAC-SHA256 over the query (attribute, normalised value) and the
payload. A cursor altered, forged, or taken from another query (another tenant, another value) fails
the mac and is refused; the data layer checks the key's partition again. The key is
MIRROR_CURSOR_KEY, or without it a random key per container: cursors then do not survive a cold
start nor reach another container (the caller gets 400 and starts the listing again).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from functools import cache

from cognito_mirror.index_keys import normalise_value
from models.directory import Continuation
from models.settings import get_settings

# A LastEvaluatedKey of the directory holds a sub and a key of at most 2048 bytes.
MAX_CURSOR_CHARS = 4096


class CursorError(ValueError):
    """The cursor is malformed, altered, or belongs to another query."""


@cache
def _random_key() -> bytes:
    return secrets.token_bytes(32)


def _key() -> bytes:
    return get_settings().cursor_key or _random_key()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(attribute: str, value: str, payload: bytes) -> bytes:
    query = json.dumps([attribute, normalise_value(attribute, value)]).encode()
    return hmac.new(_key(), query + b"\n" + payload, hashlib.sha256).digest()


def encode_cursor(attribute: str, value: str, after: Continuation) -> str:
    payload = json.dumps({"s": after.shard, "k": after.last_key}, separators=(",", ":"), sort_keys=True)
    return f"{_b64(payload.encode())}.{_b64(_mac(attribute, value, payload.encode()))}"


def decode_cursor(attribute: str, value: str, cursor: str) -> Continuation:
    """The Continuation of a cursor this API issued for this very query, else CursorError."""
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
    if not hmac.compare_digest(signature, _mac(attribute, value, payload)):
        raise CursorError("the cursor is invalid for this query (or expired): start the listing again")
    decoded = json.loads(payload)
    return Continuation(shard=decoded["s"], last_key=decoded["k"])
