"""The guard every Cognito trigger runs under: sign-in never depends on the mirror.

The write runs on a worker thread and is awaited for at most the trigger budget (default 2 s,
less if the Lambda has less time left). Whatever happens (malformed input, DynamoDB down or
slow, a bug of ours), the handler logs it without values, counts it and returns the event
unchanged; the mirror is repaired later by read-through, sync and reconcile.

A bad setting is logged at cold start (functions/common/settings.py) and again, as one line naming the
variable, on every invocation, counted as `MirrorWriteFailed`; the trigger writes nothing and returns
the event unchanged (sign-in never depends on the mirror's configuration).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
    PostAuthenticationTriggerEvent,
    PostConfirmationTriggerEvent,
)

from cognito_mirror import ConfigurationError
from functions.common.observability import (
    count_metric,
    flush_lag_metrics,
    loggable,
    logger,
    metrics,
    mirror_freshness,
)
from functions.common.settings import check_at_cold_start
from models.errors import MalformedUserError, TableUnavailableError
from models.guard import WriteOutcome
from models.settings import get_settings
from models.table import mirror_table
from models.user import UserSnapshot, snapshot_from_trigger

TriggerEvent = PostConfirmationTriggerEvent | PostAuthenticationTriggerEvent

# A few workers, so one write stuck past its botocore timeouts does not delay the next one.
_writer = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="mirror-write")
_SAFETY_MARGIN_S = 0.3
# A triggerSource for the logs: Cognito's `Name_Name` shape, else only its type (it may be PII).
_TRIGGER_SOURCE_SHAPE = re.compile(r"[A-Za-z]{1,40}_[A-Za-z]{1,40}")


def _budget(context: Any) -> float:
    budget = get_settings().trigger_budget_seconds
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining_ms):
        with contextlib.suppress(Exception):  # a broken context must not break sign-in
            budget = min(budget, max(0.0, remaining_ms() / 1000 - _SAFETY_MARGIN_S))
    return budget


def snapshot_of(event: dict[str, Any], source: str, event_class: type[TriggerEvent]) -> UserSnapshot:
    """Parse a trigger event into a snapshot, or raise MalformedUserError/KeyError/TypeError."""
    parsed = event_class(event)
    if not isinstance(event.get("request"), dict):
        raise MalformedUserError("no request object")
    return snapshot_from_trigger(
        parsed.user_name,
        parsed.request.user_attributes,
        allowlist=get_settings().mirror_attributes,
        source=source,
    )


def _configured() -> bool:
    """False, logged and counted, when a setting is bad: the trigger then writes nothing."""
    try:
        get_settings()
    except ConfigurationError as exc:
        logger.error("trigger misconfigured: mirror write skipped", extra={"error": exc.detail})
        count_metric("MirrorWriteFailed")
        return False
    return True


def mirror_from_trigger(
    event: Any,
    context: Any,
    *,
    source: str,
    accepted_sources: frozenset[str],
    event_class: type[TriggerEvent],
) -> Any:
    """Write the trigger's snapshot within the budget; always return `event` unchanged."""
    invoked = mirror_freshness.clock()  # the change (a sign-up, a sign-in) is now
    if not isinstance(event, dict):
        logger.warning("trigger event is not an object", extra={"event_type": type(event).__name__})
        count_metric("TriggerMalformedEvent")
        return event
    trigger_source = event.get("triggerSource")
    if not isinstance(trigger_source, str) or trigger_source not in accepted_sources:
        logger.warning(
            "unexpected triggerSource",
            extra={"trigger_source": loggable(trigger_source, _TRIGGER_SOURCE_SHAPE)},
        )
        count_metric("TriggerMalformedEvent")
        return event
    if not _configured():
        return event
    try:
        # Work on a copy: the event goes back to Cognito exactly as it came.
        snapshot = snapshot_of(copy.deepcopy(event), source, event_class)
    except (MalformedUserError, KeyError, TypeError, ValueError, AttributeError) as exc:
        logger.warning("malformed trigger event", extra={"reason": str(exc)[:200]})
        count_metric("TriggerMalformedEvent")
        return event
    except Exception:  # noqa: BLE001 - a bug of ours: sign-in must still succeed
        logger.exception("trigger could not prepare the mirror write")
        count_metric("MirrorWriteFailed")
        return event
    _write_within_budget(snapshot, _budget(context), invoked)
    return event


def _write_within_budget(snapshot: UserSnapshot, budget: float, invoked: int) -> None:
    log = {"sub": snapshot.sub, "attribute_names": sorted(snapshot.attributes)}
    if snapshot.dropped:
        log["dropped_attribute_names"] = list(snapshot.dropped)
    future = _writer.submit(mirror_table().put_snapshot, snapshot)
    try:
        outcome = future.result(timeout=budget)
    except concurrent.futures.TimeoutError:
        logger.error("mirror write exceeded the trigger budget", extra={**log, "budget_s": budget})
        count_metric("MirrorWriteFailed")
        return
    except TableUnavailableError as exc:  # repaired by sync/reconcile
        logger.error("mirror write failed", extra={**log, "error": str(exc)})
        count_metric("MirrorWriteFailed")
        return
    except Exception:  # noqa: BLE001 - a bug of ours: sign-in must still succeed
        logger.exception("mirror write failed", extra=log)
        count_metric("MirrorWriteFailed")
        return
    if outcome is WriteOutcome.WRITTEN:
        count_metric("MirrorWrite")
        mirror_freshness.landed(invoked, snapshot.source)
    else:
        count_metric("MirrorWriteSkipped")
    logger.info("mirror write", extra={**log, "outcome": outcome.value})


def trigger_handler(
    source: str, accepted_sources: frozenset[str], event_class: type[TriggerEvent]
) -> Callable[[Any, Any], Any]:
    """Build a Lambda handler for one trigger kind (its settings are checked now, at cold start)."""
    check_at_cold_start(source, get_settings)

    @metrics_flushed
    def handler(event: Any, context: Any) -> Any:
        return mirror_from_trigger(
            event, context, source=source, accepted_sources=accepted_sources, event_class=event_class
        )

    return handler


def metrics_flushed(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Flush metrics after `fn` without letting a metrics problem reach Cognito."""

    def wrapper(event: Any, context: Any) -> Any:
        try:
            return fn(event, context)
        finally:
            try:
                metrics.flush_metrics()
                flush_lag_metrics()
            except Exception:  # noqa: BLE001 - observability must not break sign-in
                logger.exception("metrics flush failed")

    wrapper.__name__ = getattr(fn, "__name__", "handler")
    wrapper.__doc__ = fn.__doc__
    return wrapper
