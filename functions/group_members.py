"""DynamoDB Streams batch of the mirror table → the group-members table (who is in which group).

Needs `ReportBatchItemFailures` on the stream event source: a record whose memberships could not be
written (or that is malformed) fails alone; the stream retries from it, then sends the batch's
metadata to the on-failure destination. See functions/common/group_members.py, docs/DIRECTORY.md.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from functions.common.group_members import project_stream_batch
from functions.common.observability import logger, metrics
from functions.common.settings import check_at_cold_start
from functions.common.stream_batch import partial_failures
from models.group_members import group_members_table

check_at_cold_start("group_members", group_members_table)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # Misconfiguration fails the whole invocation (every record retried), never one by one.
    outcome = project_stream_batch(event.get("Records") or [], group_members_table())
    return partial_failures(event, context, outcome.failed, "group memberships")
