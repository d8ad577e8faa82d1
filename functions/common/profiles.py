"""Profile lookup: mirror GetItem through an in-memory TTL cache, read-through on a miss.

Cognito's read quotas are shared and small, so a miss costs at most one Cognito call per sub at a
time (concurrent misses for one sub share one load) and "no such user" is remembered for
MIRROR_NOT_FOUND_TTL_SECONDS. Cached profiles are immutable: no request can change what the next
one sees.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from functions.common.errors import ServiceUnavailableError, UserNotFoundError
from functions.common.observability import count, logger
from models.mirror_table import MirrorUnavailableError, get_record, put_snapshot
from models.settings import get_settings
from models.user import UserSnapshot

READ_THROUGH_SOURCE = "read_through"
T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    sub: str
    username: str
    attributes: Mapping[str, str]
    status: str
    enabled: bool
    updated_at: str

    def __post_init__(self) -> None:
        # A read-only view over a private copy: neither the caller's dict nor a handler can change it.
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @classmethod
    def from_snapshot(cls, snapshot: UserSnapshot) -> Profile:
        updated = datetime.fromtimestamp(snapshot.observed_at / 1_000_000, tz=UTC)
        return cls(
            sub=snapshot.sub,
            username=snapshot.username,
            attributes=snapshot.attributes,
            status=snapshot.status,
            enabled=snapshot.enabled,
            updated_at=updated.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        )

    def to_dict(self) -> dict[str, Any]:
        """A fresh plain dict (the caller may change it freely)."""
        return {
            "sub": self.sub,
            "username": self.username,
            "attributes": dict(self.attributes),
            "status": self.status,
            "enabled": self.enabled,
            "updated_at": self.updated_at,
        }


# A deleted user (tombstones are final), and a user neither the mirror nor Cognito knows.
_DELETED = object()
_NOT_FOUND = object()


class TTLCache:
    """A small LRU with per-entry expiry; expired entries are kept for stale-if-error reads."""

    def __init__(self, max_entries: int) -> None:
        self._max = max(1, max_entries)
        self._items: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, *, stale_for: float = 0.0) -> object | None:
        """The live entry, or one expired less than `stale_for` seconds ago."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            if expires + stale_for < time.monotonic():
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


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    """Concurrent calls for one key run the work once; the others wait and share its outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[T]] = {}

    def do(self, key: str, work: Callable[[], T]) -> T:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return flight.result
        try:
            flight.result = work()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()


_cache: TTLCache | None = None
_loads: SingleFlight[Profile] = SingleFlight()


def profile_cache() -> TTLCache:
    global _cache
    if _cache is None:
        _cache = TTLCache(get_settings().cache_max_entries)
    return _cache


def _from_cache(value: object) -> Profile:
    if value is _DELETED or value is _NOT_FOUND:
        raise UserNotFoundError("user not found")
    assert isinstance(value, Profile)
    return value


def get_profile(sub: str, *, username: str | None = None) -> Profile:
    """The mirrored profile of `sub`; repaired from Cognito when the mirror has no row yet.

    `username` is the caller's own (from their verified token): the read-through then asks Cognito
    for that username only. Without it (an admin reading by sub) Cognito is searched by sub.
    Raises UserNotFoundError (unknown or deleted) or ServiceUnavailableError.
    """
    cached = profile_cache().get(sub)
    if cached is not None:
        count("ProfileCacheHit")
        return _from_cache(cached)
    return _loads.do(sub, lambda: _load(sub, username))


def _load(sub: str, username: str | None) -> Profile:
    settings = get_settings()
    cache = profile_cache()
    try:
        record = get_record(sub)
    except MirrorUnavailableError as exc:
        stale = cache.get(sub, stale_for=settings.stale_if_error_seconds)
        if stale is _NOT_FOUND:
            stale = None
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
    snapshot = _read_through(sub, username)
    if snapshot is None:
        cache.put(sub, _NOT_FOUND, settings.not_found_ttl_seconds)
        raise UserNotFoundError("user not found")
    profile = Profile.from_snapshot(snapshot)
    cache.put(sub, profile, settings.cache_ttl_seconds)
    return profile


def _read_through(sub: str, username: str | None) -> UserSnapshot | None:
    """Cognito's snapshot of `sub`, written through the guarded path; None when Cognito has none."""
    from functions.common.cognito import read_user

    pool = get_settings().user_pool_id
    if pool is None:
        logger.warning("mirror miss and USER_POOL_ID unset: no read-through", extra={"sub": sub})
        return None
    count("ProfileReadThrough")
    # Usernames are unique among live users: if the caller's resolves to another sub, their user is
    # gone (no ListUsers search, which costs the scarcer quota). Only a read by sub alone searches.
    snapshot = read_user(
        user_pool_id=pool, source=READ_THROUGH_SOURCE, username=username, sub=sub, interactive=True
    )
    if snapshot is None:
        return None
    try:
        outcome = put_snapshot(snapshot)
        logger.info("read-through repair", extra={"sub": sub, "outcome": outcome.value})
    except MirrorUnavailableError:
        # The caller still gets the profile; sync/reconcile will write it later.
        logger.error("read-through write failed", extra={"sub": sub})
        count("MirrorWriteFailed")
    return snapshot
