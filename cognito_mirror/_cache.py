"""The reader's cache: LRU with per-entry expiry, bounded stale-if-error, and single-flight loads."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cognito_mirror._errors import MirrorUnavailableError
from cognito_mirror.record import Profile

# The cached answer for a sub: a profile, or None for "no such user" (unknown or deleted).
Answer = Profile | None


@dataclass
class _Entry:
    answer: Answer
    expires: float
    # A tombstone's "not found" is final; an unknown user's may end at any moment (sign-up).
    final: bool = False


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    answer: Answer = None
    error: BaseException | None = None


class ProfileCache:
    def __init__(self, max_entries: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max(1, max_entries)
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()

    def fresh(self, sub: str) -> _Entry | None:
        return self._lookup(sub, grace=0.0)

    def stale(self, sub: str, bound: float) -> _Entry | None:
        """An entry expired at most `bound` seconds ago (served only while the store fails)."""
        return self._lookup(sub, grace=bound)

    def _lookup(self, sub: str, grace: float) -> _Entry | None:
        # No lock on a read (the hot path): the read and the move are each atomic under the GIL, and
        # an entry evicted or replaced between them is just not moved (the one read is returned).
        entry = self._entries.get(sub)
        if entry is None or entry.expires + grace < self._clock():
            return None
        try:  # noqa: SIM105 (contextlib.suppress costs more than the lookup)
            self._entries.move_to_end(sub)
        except KeyError:
            pass
        return entry

    def put(self, sub: str, answer: Answer, ttl: float, *, final: bool = False) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._entries[sub] = _Entry(answer, self._clock() + ttl, final)
            self._entries.move_to_end(sub)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def single_flight(self, sub: str, load: Callable[[], Answer], wait_seconds: float) -> Answer:
        """One `load` per sub at a time: concurrent callers for that sub share its outcome."""
        with self._lock:
            flight = self._flights.get(sub)
            leader = flight is None
            if flight is None:
                flight = self._flights[sub] = _Flight()
        if not leader:
            if not flight.done.wait(wait_seconds):
                raise MirrorUnavailableError("a concurrent lookup of this user did not finish in time")
            if flight.error is not None:
                raise flight.error
            return flight.answer
        try:
            flight.answer = load()
            return flight.answer
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[sub]
            flight.done.set()
