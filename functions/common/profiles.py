"""Profile lookup: mirror GetItem through an in-memory TTL cache, read-through on a miss."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.common.errors import ServiceUnavailableError, UserNotFoundError
from functions.common.observability import count, logger
from models.mirror_table import MirrorUnavailableError, get_record, put_snapshot
from models.settings import get_settings
from models.user import UserSnapshot

READ_THROUGH_SOURCE = "read_through"


@dataclass(frozen=True)
class Profile:
    sub: str
    username: str
    attributes: dict[str, str]
    status: str
    enabled: bool
    updated_at: str

    @classmethod
    def from_snapshot(cls, snapshot: UserSnapshot) -> Profile:
        updated = datetime.fromtimestamp(snapshot.observed_at / 1_000_000, tz=UTC)
        return cls(
            sub=snapshot.sub,
            username=snapshot.username,
            attributes=dict(snapshot.attributes),
            status=snapshot.status,
            enabled=snapshot.enabled,
            updated_at=updated.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "username": self.username,
            "attributes": dict(self.attributes),
            "status": self.status,
            "enabled": self.enabled,
            "updated_at": self.updated_at,
        }


# A deleted user, cached as such (tombstones are final).
_DELETED = object()


class TTLCache:
    """A small LRU with per-entry expiry; expired entries are kept for stale-if-error reads."""

    def __init__(self, max_entries: int) -> None:
        self._max = max(1, max_entries)
        self._items: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, *, allow_stale: bool = False) -> object | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            if not allow_stale and expires < time.monotonic():
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: str, value: object, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache: TTLCache | None = None


def profile_cache() -> TTLCache:
    global _cache
    if _cache is None:
        _cache = TTLCache(get_settings().cache_max_entries)
    return _cache


def _from_cache(value: object) -> Profile:
    if value is _DELETED:
        raise UserNotFoundError("user not found")
    assert isinstance(value, Profile)
    return value


def get_profile(sub: str, *, username_hint: str | None = None) -> Profile:
    """The mirrored profile of `sub`; repaired from Cognito when the mirror has no row yet.

    Raises UserNotFoundError (unknown or deleted) or ServiceUnavailableError.
    """
    settings = get_settings()
    cache = profile_cache()
    cached = cache.get(sub)
    if cached is not None:
        count("ProfileCacheHit")
        return _from_cache(cached)
    try:
        record = get_record(sub)
    except MirrorUnavailableError as exc:
        stale = cache.get(sub, allow_stale=True)
        logger.error("mirror read failed", extra={"sub": sub, "served_stale": stale is not None})
        count("MirrorReadFailed")
        if stale is not None:
            return _from_cache(stale)
        raise ServiceUnavailableError("the profile store is unavailable") from exc
    if record is not None:
        count("ProfileMirrorRead")
        if record.is_tombstone:
            cache.put(sub, _DELETED, settings.cache_ttl_seconds)
            raise UserNotFoundError("user not found")
        profile = Profile.from_snapshot(record.to_snapshot())
        cache.put(sub, profile, settings.cache_ttl_seconds)
        return profile
    profile = _read_through(sub, username_hint)
    cache.put(sub, profile, settings.cache_ttl_seconds)
    return profile


def _read_through(sub: str, username_hint: str | None) -> Profile:
    from functions.common.cognito import read_user

    pool = get_settings().user_pool_id
    if pool is None:
        logger.warning("mirror miss and USER_POOL_ID unset: no read-through", extra={"sub": sub})
        raise UserNotFoundError("user not found")
    count("ProfileReadThrough")
    snapshot = read_user(
        user_pool_id=pool, source=READ_THROUGH_SOURCE, username=username_hint, sub=sub, interactive=True
    )
    if snapshot is None and username_hint:
        # The username may have been reused or renamed; the sub is the identity.
        snapshot = read_user(user_pool_id=pool, source=READ_THROUGH_SOURCE, sub=sub, interactive=True)
    if snapshot is None:
        raise UserNotFoundError("user not found")
    try:
        outcome = put_snapshot(snapshot)
        logger.info("read-through repair", extra={"sub": sub, "outcome": outcome.value})
    except MirrorUnavailableError:
        # The caller still gets the profile; sync/reconcile will write it later.
        logger.error("read-through write failed", extra={"sub": sub})
        count("MirrorWriteFailed")
    return Profile.from_snapshot(snapshot)
