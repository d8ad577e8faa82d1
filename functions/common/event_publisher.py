"""Publish the user change events of a DynamoDB Streams batch on the mirror's EventBridge bus.

PutEvents takes at most 10 entries and 256 KB a call and can fail some entries of a call (or the
whole call, in an outage): failed entries are retried with full-jitter exponential backoff; whatever
still fails is returned as the stream records to report as batch item failures, so the stream
retries them (then the on-failure destination). Delivery is therefore at least once: a retried
record can publish again an event already published, with the same deterministic id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.common.observability import count_metric, logger, user_event_lag
from functions.common.retry import backoff_delay
from functions.common.user_events import (
    EVENT_SOURCE,
    MalformedStreamRecordError,
    UserEvent,
    removed_live_row,
    user_event,
    without_values,
)
from models.aws import bounded_config, create_client
from models.errors import error_code
from models.settings import ClientBounds, get_settings
from models.user import iso_time_us

MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 2.0
# Each entry's Time counts 14 bytes in AWS's size formula; we leave Time out (EventBridge stamps it).
_TIME_BYTES = 14


@cache
def events_client() -> Any:
    """The process's EventBridge client, from the stack's client factory (models/aws.py): the
    settings' region and profile, 1 s connect, 3 s read, 3 attempts; endpoints from botocore's own
    variables. Created on first use; `events_client.cache_clear()` forgets it.

    Two first calls at once could each build one (the cache holds no lock while building) and one
    would be dropped after its call; the publisher calls it from the handler's one thread, so it
    does not happen.
    """
    settings = get_settings()
    return create_client(
        "events",
        region=settings.region,
        config=bounded_config(ClientBounds(connect_timeout=1, read_timeout=3, max_attempts=3)),
        profile=settings.aws_profile,
        instance_metadata=settings.instance_metadata,
    )


def entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it (Time, Source, DetailType, Detail, Resources)."""
    size = _TIME_BYTES + len(entry["Source"].encode()) + len(entry["DetailType"].encode())
    size += len(entry["Detail"].encode())
    return size + sum(len(resource.encode()) for resource in entry.get("Resources", ()))


def to_entry(event: UserEvent, bus: str) -> dict[str, Any]:
    detail = json.dumps(event.detail, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return {"Source": EVENT_SOURCE, "DetailType": event.detail_type, "Detail": detail, "EventBusName": bus}


def batches(entries: list[dict[str, Any]]) -> list[list[int]]:
    """Indexes of `entries` grouped into PutEvents calls (≤ 10 entries, ≤ 256 KB), order kept."""
    groups: list[list[int]] = []
    size = 0
    for index, entry in enumerate(entries):
        entry_bytes = entry_size(entry)
        if not groups or len(groups[-1]) == MAX_ENTRIES or size + entry_bytes > MAX_REQUEST_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += entry_bytes
    return groups


def put_entries(
    entries: list[dict[str, Any]],
    *,
    client: Any = None,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> set[int]:
    """Put `entries`, retrying failed ones; the indexes that still failed after `attempts` tries."""
    client = client or events_client()
    pending = list(range(len(entries)))
    for attempt in range(attempts):
        if attempt:
            sleep(backoff_delay(attempt - 1, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS))
        failed: list[int] = []
        for group in batches([entries[i] for i in pending]):
            indexes = [pending[i] for i in group]
            try:
                answer = client.put_events(Entries=[entries[i] for i in indexes])
            except (BotoCoreError, ClientError) as exc:
                logger.warning(
                    "events: PutEvents failed", extra={"error": error_code(exc), "entries": len(indexes)}
                )
                count_metric("UserEventPutFailed")
                failed.extend(indexes)
                continue
            if answer.get("FailedEntryCount"):
                results = answer.get("Entries", [])
                codes = sorted(
                    {str(result.get("ErrorCode")) for result in results if result.get("ErrorCode")}
                )
                logger.warning("events: entries refused", extra={"codes": codes})
                failed.extend(
                    i for i, result in zip(indexes, results, strict=True) if result.get("ErrorCode")
                )
        pending = failed
        if not pending:
            break
    return set(pending)


@dataclass
class BatchOutcome:
    """Sequence numbers of the stream records to report as failed, and counts."""

    failed: set[str] = field(default_factory=set)
    published: int = 0
    skipped: int = 0


# A TTL deletion's stream record names DynamoDB itself as the remover.
_TTL_REMOVER = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def _event_of(record: dict[str, Any], payload: str) -> UserEvent | None:
    images = record.get("dynamodb") or {}
    old_image, new_image = images.get("OldImage"), images.get("NewImage")
    event = user_event(old_image, new_image, payload=payload)
    if event is None and removed_live_row(old_image, new_image):
        removed_by = "ttl" if record.get("userIdentity") == _TTL_REMOVER else "other"
        logger.warning(
            "events: live row removed",
            extra={"sequence": str(images.get("SequenceNumber", "")), "removed_by": removed_by},
        )
        count_metric("UserEventLiveRowRemoved")
    return event


def _fitting_entry(event: UserEvent, bus: str) -> dict[str, Any]:
    entry = to_entry(event, bus)
    if entry_size(entry) > MAX_REQUEST_BYTES:
        # Too large to ever be accepted: published without values (consumers read GET /users/{sub}).
        count_metric("UserEventTrimmed")
        entry = to_entry(without_values(event), bus)
    return entry


def publish_stream_batch(
    records: list[dict[str, Any]], *, bus: str, payload: str, client: Any = None
) -> BatchOutcome:
    """Turn a stream batch into events and publish them; which records must be retried."""
    outcome = BatchOutcome()
    entries: list[dict[str, Any]] = []
    origin: list[str] = []
    written_at: list[int | None] = []  # each entry's row write, for UserEventLag
    for record in records:
        sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
        try:
            event = _event_of(record, payload)
        except MalformedStreamRecordError as exc:
            logger.warning(
                "events: malformed stream record", extra={"sequence": sequence, "reason": str(exc)}
            )
            count_metric("UserEventMalformedRecord")
            outcome.failed.add(sequence)
            continue
        except Exception as exc:  # noqa: BLE001 - see the comment below
            # Deliberate guard: a bug fails this record only (then the on-failure destination);
            # the type alone is logged, an image's values never are.
            logger.error(
                "events: unexpected error", extra={"sequence": sequence, "error": type(exc).__name__}
            )
            count_metric("UserEventUnexpectedError")
            outcome.failed.add(sequence)
            continue
        if event is None:
            outcome.skipped += 1
            continue
        entries.append(_fitting_entry(event, bus))
        origin.append(sequence)
        written_at.append(stream_record_time_us(record))
    failed = put_entries(entries, client=client) if entries else set()
    for index, since in enumerate(written_at):
        if since is not None and index not in failed:
            user_event_lag.landed(since)
    outcome.failed.update(origin[i] for i in failed)
    outcome.published = len(entries) - len(failed)
    count_metric("UserEventPublished", outcome.published)
    count_metric("UserEventSkipped", outcome.skipped)
    if failed:
        count_metric("UserEventFailed", len(failed))
    return outcome


def stream_record_time_us(record: dict[str, Any]) -> int | None:
    """The latest moment known to come before the record's row was written (µs), for UserEventLag:
    its `ApproximateCreationDateTime` (epoch seconds rounded down on AWS; an ISO string locally,
    where DynamoDB Local rounds it down to the minute) or the row's own `observed_at`, whichever is
    later (a writer observes, then writes). None when neither is readable."""
    images = record.get("dynamodb") or {}
    created = images.get("ApproximateCreationDateTime")
    moments = [iso_time_us(created)]
    if isinstance(created, int | float) and not isinstance(created, bool):
        moments.append(int(created * 1_000_000))
    observed = ((images.get("NewImage") or {}).get("observed_at") or {}).get("N")
    if isinstance(observed, str) and observed.isdigit():
        moments.append(int(observed))
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None
