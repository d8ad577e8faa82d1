"""Logger and Metrics, built once per process and imported everywhere.

Logs carry subs, usernames' absence, attribute NAMES and counts; never attribute values (PII).
"""

from __future__ import annotations

import os
import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME", "cognito-attribute-mirror")
NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE", "CognitoAttributeMirror")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def count_metric(name: str, value: int = 1) -> None:
    """Add `value` to the Count metric `name` (flushed with the invocation's other metrics)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def loggable(value: Any, shape: re.Pattern[str]) -> str:
    """`value` when it has the expected shape, else only its type name: a value from outside
    (a trigger's source, a CloudTrail event id) may carry personal data, so it is logged only
    when it looks like what it claims to be."""
    if isinstance(value, str) and shape.fullmatch(value):
        return value
    return f"<{type(value).__name__}>"
