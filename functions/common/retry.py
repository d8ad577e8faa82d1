"""Retrying a call on a shared quota: full-jitter exponential backoff, and the stack's retry loop.

Throttling is the quota asking for patience, so it gets its own (larger) allowance; any other
transient failure gets a small one. What is transient is the caller's to say.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from functions.common.errors import CognitoUnavailableError
from models.errors import error_code

T = TypeVar("T")
_MAX_EXPONENT = 10


class Transient(enum.Enum):
    THROTTLED = "throttled"
    FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying: throttles allowed before giving up, attempts on other failures."""

    max_throttle_retries: int
    max_failed_attempts: int
    backoff_base: float
    backoff_cap: float


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311 - jitter, not secrecy


def call_with_backoff(
    call: Callable[[], T],
    *,
    what: str,
    transient: Callable[[Exception], Transient | None],
    policy: RetryPolicy,
    before_attempt: Callable[[], None],
    sleep: Callable[[float], None],
    on_throttle: Callable[[], None] = lambda: None,
) -> T:
    """`call()` after `before_attempt()` (the rate limiter), retried with backoff while `transient`
    classifies the error; an error it does not classify is raised as it is. When the allowance is
    spent, CognitoUnavailableError names `what` and the cause."""
    throttled = failed = 0
    while True:
        before_attempt()
        try:
            return call()
        except Exception as exc:
            kind = transient(exc)
            if kind is None:
                raise
            if kind is Transient.THROTTLED:
                on_throttle()
                throttled += 1
                if throttled > policy.max_throttle_retries:
                    raise CognitoUnavailableError(
                        f"{what} still throttled ({error_code(exc)}) after {throttled} attempts"
                    ) from exc
            else:
                failed += 1
                if failed >= policy.max_failed_attempts:
                    raise CognitoUnavailableError(
                        f"{what} kept failing ({type(exc).__name__}) after {failed} attempts"
                    ) from exc
        attempt = min(throttled + failed - 1, _MAX_EXPONENT)
        sleep(backoff_delay(attempt, base=policy.backoff_base, cap=policy.backoff_cap))
