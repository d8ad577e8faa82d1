"""Scheduled reconcile: list the pool and repair the mirror with the backfill engine.

Missing and stale rows are written, rows of users no longer in the pool are tombstoned (after
Cognito confirms), tombstones of users Cognito still lists are revived (after AdminGetUser
confirms), and the drift found is emitted as metrics (DriftMissing, DriftStale, DriftTombstoned,
DriftOrphaned) so an operator sees when events are being lost or misread. The run stops before
the Lambda's time runs out and continues on the next invocation (see docs/BACKFILL.md).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.backfill.options import Mode, Options, WriteMode
from functions.common.backfill.reconcile_state import run_reconcile
from functions.common.observability import count, logger, metrics
from models.settings import ConfigurationError, get_settings

# Stop listing this long before the Lambda's deadline: the prune scan and the state save need it.
_MARGIN_MS = int(os.environ.get("MIRROR_RECONCILE_MARGIN_MS", "60000"))


def _options() -> Options:
    pool = get_settings().user_pool_id
    if pool is None:
        raise ConfigurationError("USER_POOL_ID is not set: reconcile needs the user pool")
    return Options(
        user_pool_id=pool,
        mode=Mode.FILL,
        prune=True,
        segments=int(os.environ.get("MIRROR_RECONCILE_SEGMENTS", "16")),
        max_rps=float(os.environ.get("MIRROR_RECONCILE_MAX_RPS", "10")),
        workers=int(os.environ.get("MIRROR_RECONCILE_WORKERS", "16")),
        write_mode=WriteMode(os.environ.get("MIRROR_RECONCILE_WRITE_MODE", "partiql")),
        source="reconcile",
    )


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = run_reconcile(
        _options(),
        should_stop=lambda: context.get_remaining_time_in_millis() < _MARGIN_MS,
        workdir=os.environ.get("MIRROR_RECONCILE_WORKDIR", "/tmp"),  # noqa: S108 - Lambda's only disk
    )
    count("DriftMissing", summary.missing)
    count("DriftStale", summary.stale)
    count("DriftTombstoned", summary.tombstoned)
    count("DriftOrphaned", summary.orphaned)
    count("ReconcileWritten", summary.written)
    count("ReconcileRevived", summary.revived)
    count("ReconcilePruned", summary.pruned)
    count("ReconcileFailed", summary.failed)
    count("ReconcileIncomplete", 0 if summary.complete else 1)
    count("ReconcileStateDiscarded", 1 if summary.state_discarded else 0)
    result = summary.as_dict()
    logger.info("reconcile finished", extra={k: v for k, v in result.items() if k != "failed_subs"})
    return result
