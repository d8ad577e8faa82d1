"""The answer of a DynamoDB Streams batch handler: which records failed (`ReportBatchItemFailures`).

A handler works the whole batch first and knows the sequence numbers of the records that failed;
Powertools' `BatchProcessor` turns them into the partial batch response, so the stream retries from
the first failed record (then sends the batch's metadata to the on-failure destination).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


class RecordNotProcessedError(RuntimeError):
    """This record's work was not done (or the record is malformed): the stream retries it."""


def partial_failures(
    event: dict[str, Any], context: Any, failed: set[str], what: str
) -> PartialItemFailureResponse:
    """The batch response reporting the records whose sequence number is in `failed` (`what` names
    their work in the processor's log)."""

    def record_handler(record: DynamoDBRecord) -> None:
        if record.dynamodb is None or record.dynamodb.sequence_number in failed:
            raise RecordNotProcessedError(f"{what} not done")

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
