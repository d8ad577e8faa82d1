"""DynamoDB Streams batch of the mirror table → user change events on the mirror's EventBridge bus.

Needs `ReportBatchItemFailures` on the stream event source: a record whose event could not be
published (after retries) or that is malformed fails alone; the stream retries from it, then sends
the batch's metadata to the on-failure destination. See docs/EVENTS.md.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from functions.common.event_publisher import publish_stream_batch
from functions.common.observability import log_metrics, logger
from functions.common.settings import check_at_cold_start, event_settings
from functions.common.stream_batch import partial_failures

check_at_cold_start("user_events", event_settings)


@logger.inject_lambda_context
@log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # Misconfiguration fails the whole invocation (every record retried), never one by one.
    settings = event_settings()
    outcome = publish_stream_batch(
        event.get("Records") or [], bus=settings.event_bus, payload=settings.event_payload
    )
    return partial_failures(event, context, outcome.failed, "user event")
