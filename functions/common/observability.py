"""Logger and Metrics, built once per process and imported everywhere.

Logs carry subs, usernames' absence, attribute NAMES and counts; never attribute values (PII).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME", "cognito-attribute-mirror")
NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE", "CognitoAttributeMirror")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
