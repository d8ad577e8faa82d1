"""One token bucket for every call to a rate-limited API (ListUsers, AdminGetUser), shared by threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """A token bucket of one token refilled `rate` times per second, shared by all threads.

    A burst of one keeps calls evenly spaced, so no one-second window ever sees more than `rate`.
    A larger burst would start faster by at most one second's calls, and let the first window see
    up to twice the rate. The interval is rounded up by a billionth: summed in floating point,
    `rate` intervals of exactly 1/rate can fall short of a second and fit rate + 1 calls in one.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._interval = (1.0 / rate) * (1 + 1e-9)
        self._clock = clock
        self._next = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot; return how long to wait for it."""
        with self._lock:
            now = self._clock()
            slot = max(self._next, now)
            self._next = slot + self._interval
            return slot - now

    def acquire(self, stop: threading.Event | None = None) -> None:
        delay = self.reserve()
        if delay > 0:
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)
