"""SQS batch of EventBridge CloudTrail events: keep the mirror in step with Cognito.

Needs `ReportBatchItemFailures` on the SQS event source: a record that is malformed, throttled by
Cognito or refused by DynamoDB fails alone and is retried by SQS (then lands in the DLQ).
See docs/SYNC.md.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.common.cloudtrail import MalformedSyncRecordError
from functions.common.errors import CognitoThrottledError
from functions.common.observability import count_metric, log_metrics, logger
from functions.common.settings import check_at_cold_start, pool_settings
from functions.common.sync import sync_message
from models.errors import DependencyUnavailableError

# An all-failed batch is answered with every id listed, like any partial failure, instead of
# raising: SQS retries the same records either way, without an invocation error per batch.
NEEDED_BY = "attribute sync"
check_at_cold_start("attribute_sync", lambda: pool_settings(NEEDED_BY))
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    """Sync one message; a raised error fails this record only (the processor reports it)."""
    try:
        sync_message(record.body, user_pool_id=pool_settings(NEEDED_BY).user_pool_id)
    except MalformedSyncRecordError as exc:
        logger.warning("sync: malformed record", extra={"message_id": record.message_id, "reason": str(exc)})
        count_metric("SyncMalformedRecord")
        raise
    except DependencyUnavailableError as exc:
        logger.warning(
            "sync: dependency unavailable, record will be retried",
            extra={"message_id": record.message_id, "error": str(exc)},
        )
        count_metric(
            "SyncCognitoThrottled" if isinstance(exc, CognitoThrottledError) else "SyncDependencyFailed"
        )
        raise
    except Exception:
        # Deliberate guard, not a swallow: the processor would fail the record silently; an
        # unexpected error (a bug) is logged with its stack and counted, then fails this record.
        logger.exception("sync: unexpected error", extra={"message_id": record.message_id})
        count_metric("SyncUnexpectedError")
        raise


@logger.inject_lambda_context
@log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # Misconfiguration fails the whole invocation (every record retried), never one by one.
    pool_settings(NEEDED_BY)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
