"""DynamoDB Streams batch of the mirror table → user change events on the mirror's EventBridge bus.

Needs `ReportBatchItemFailures` on the stream event source: a record whose event could not be
published (after retries) or that is malformed fails alone; the stream retries from it, then sends
the batch's metadata to the on-failure destination. See docs/EVENTS.md.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.common.event_publisher import publish_stream_batch
from functions.common.observability import log_metrics, logger
from functions.common.settings import check_at_cold_start, event_settings

check_at_cold_start("user_events", event_settings)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


class EventNotPublishedError(RuntimeError):
    """This record's event was not published (or the record is malformed): the stream retries it."""


@logger.inject_lambda_context
@log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # Misconfiguration fails the whole invocation (every record retried), never one by one.
    settings = event_settings()
    outcome = publish_stream_batch(
        event.get("Records") or [], bus=settings.event_bus, payload=settings.event_payload
    )

    def record_handler(record: DynamoDBRecord) -> None:
        if record.dynamodb is None or record.dynamodb.sequence_number in outcome.failed:
            raise EventNotPublishedError("user event not published")

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
