"""Deploy-time custom resource: record the directory's layout in the mirror's table
(functions/common/layout_resource.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.layout_resource import answer_stack
from functions.common.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return {"Status": answer_stack(event, context)}
