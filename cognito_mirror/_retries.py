"""botocore's standard retry mode for DynamoDB's GetItem and Query, for the botocore-free client.

Read from botocore's `retries/standard.py` and `retries/quota.py`: which answers are retried, which
count as throttling (1 s backoff base instead of 25 ms), the jittered exponential backoff with
`x-amz-retry-after`, and the retry quota that stops retries when most calls fail. The quota is a
token bucket of 500 shared by one client's calls: a retry takes 5 after throttling, 14 after any
other failure (none left: the failure is answered at once); a call that succeeds gives back what its
last retry took, or 1 when it needed none.
"""

from __future__ import annotations

import random
import threading

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
# GetItem's and Query's modeled errors: a 429 carrying one of them is not throttling by its status.
MODELED_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ResourceNotFoundException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ThrottlingException",
    }
)
THROTTLING_BASE_SECONDS = 1.0
TRANSIENT_BASE_SECONDS = 0.025
MAX_BACKOFF_SECONDS = 20.0
RETRY_AFTER_MAX_ADDITIONAL_SECONDS = 5.0

QUOTA_CAPACITY = 500
RETRY_COST = 14
THROTTLING_RETRY_COST = 5
NO_RETRY_INCREMENT = 1


def is_throttling(status: int, code: str) -> bool:
    return code in THROTTLING_CODES or (status == 429 and code not in MODELED_CODES)


def is_retryable(status: int, code: str) -> bool:
    """An error answer standard mode retries (connection errors and a bad CRC32 are retried too)."""
    return is_throttling(status, code) or code in TRANSIENT_CODES or status in TRANSIENT_STATUSES


def backoff_seconds(attempt: int, throttled: bool, retry_after_ms: str | None) -> float:
    """The pause after failed attempt `attempt` (1-based), raised to `x-amz-retry-after` within 5 s."""
    base = THROTTLING_BASE_SECONDS if throttled else TRANSIENT_BASE_SECONDS
    jitter = random.random()  # noqa: S311 - jitter, not secrecy
    delay: float = jitter * min(base * 2.0 ** (attempt - 1), MAX_BACKOFF_SECONDS)
    if retry_after_ms is not None and retry_after_ms.isdigit():
        return max(delay, min(int(retry_after_ms) / 1000, delay + RETRY_AFTER_MAX_ADDITIONAL_SECONDS))
    return delay


class RetryQuota:
    """One client's retry budget (thread-safe)."""

    def __init__(self, capacity: int = QUOTA_CAPACITY) -> None:
        self.capacity = self.available = capacity
        self._lock = threading.Lock()

    def acquire(self, throttled: bool) -> int | None:
        """The amount taken for one retry, or None when the quota cannot pay for it."""
        amount = THROTTLING_RETRY_COST if throttled else RETRY_COST
        with self._lock:
            if amount > self.available:
                return None
            self.available -= amount
            return amount

    def release(self, acquired: int | None) -> None:
        """After a successful call: what its last retry took back, or the no-retry increment."""
        if self.available == self.capacity:
            return
        with self._lock:
            amount = NO_RETRY_INCREMENT if acquired is None else acquired
            self.available = min(self.capacity, self.available + amount)
