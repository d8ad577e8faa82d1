"""Scheduled reconcile: list the pool and repair the mirror with the backfill engine.

Missing and stale rows are written, rows of users no longer in the pool are tombstoned (after
Cognito confirms), tombstones of users Cognito still lists are revived (after AdminGetUser
confirms), every user's group membership is compared and written, and the drift found is emitted
as metrics (DriftMissing, DriftStale, DriftTombstoned, DriftOrphaned, DriftGroupsUnknown,
DriftGroupsStale; ReconcileDrift, their total, once a pass completes) so an operator sees when
events are being lost or misread. The run stops before the Lambda's time runs out and continues on
the next invocation (see docs/BACKFILL.md).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.backfill.options import Mode, Options
from functions.common.backfill.reconcile_state import run_reconcile
from functions.common.observability import count_metric, log_metrics, logger
from functions.common.settings import ReconcileSettings, check_at_cold_start, reconcile_settings

check_at_cold_start("reconcile", reconcile_settings)


def _options(settings: ReconcileSettings) -> Options:
    return Options(
        user_pool_id=settings.user_pool_id,
        mode=Mode.FILL,
        prune=True,
        segments=settings.segments,
        max_rps=settings.max_rps,
        workers=settings.workers,
        write_mode=settings.write_mode,
        source="reconcile",
    )


@logger.inject_lambda_context
@log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = reconcile_settings()
    summary = run_reconcile(
        _options(settings),
        should_stop=lambda: context.get_remaining_time_in_millis() < settings.margin_ms,
        workdir=settings.workdir,
    )
    count_metric("DriftMissing", summary.missing)
    count_metric("DriftStale", summary.stale)
    count_metric("DriftTombstoned", summary.tombstoned)
    count_metric("DriftOrphaned", summary.orphaned)
    count_metric("DriftGroupsUnknown", summary.groups_unknown)
    count_metric("DriftGroupsStale", summary.groups_stale)
    count_metric("ReconcileGroupsWritten", summary.groups_written)
    count_metric("ReconcileWritten", summary.written)
    count_metric("ReconcileRevived", summary.revived)
    count_metric("ReconcilePruned", summary.pruned)
    count_metric("ReconcileFailed", summary.failed)
    count_metric("ReconcileThrottles", summary.throttles)  # Cognito's, waited out
    count_metric("ReconcileIncomplete", 0 if summary.complete else 1)
    count_metric("ReconcileStateDiscarded", 1 if summary.state_discarded else 0)
    if summary.complete:  # the drift of a whole pass: what the ReconcileDrift alarm watches
        count_metric("ReconcileDrift", summary.drift)
    result = summary.as_dict()
    logger.info("reconcile finished", extra={k: v for k, v in result.items() if k != "failed_subs"})
    return result
