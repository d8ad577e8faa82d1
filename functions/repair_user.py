"""Repair function: readers in other services invoke it on a mirror miss (functions/common/repair.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.observability import logger, metrics
from functions.common.repair import repair_user
from functions.common.settings import check_at_cold_start, pool_settings

check_at_cold_start("repair_user", lambda: pool_settings("the repair function"))


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return repair_user(event)
