"""The CloudFormation custom resource that records the directory's layout at each deploy.

On Create and Update it writes the layout record (models/directory_layout.py) from this deployment's
MIRROR_INDEXED_ATTRIBUTES, as validated by the mirror's settings; on Delete it leaves the table alone
(it goes with the stack, or is retained with its rows). It always answers CloudFormation (the
pre-signed ResponseURL), FAILED with the reason when the write or the settings fail, so that a
deploy never waits an hour for an answer.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from cognito_mirror.directory_layout import LAYOUT_SUB
from functions.common.observability import logger
from models.directory_layout import write_layout
from models.errors import TableUnavailableError
from models.settings import ConfigurationError, get_settings
from models.table import mirror_table

RESPONSE_TIMEOUT_SECONDS = 10


def record_layout(event: dict[str, Any]) -> tuple[str, str]:
    """Act on one request: ("SUCCESS" | "FAILED", reason)."""
    if event.get("RequestType") not in ("Create", "Update"):
        return "SUCCESS", "nothing to do"
    try:
        indexed = get_settings().indexed_attributes
        write_layout(mirror_table(), indexed)
    except (ConfigurationError, TableUnavailableError) as exc:
        logger.error("directory layout not recorded", extra={"error": str(exc)})
        return "FAILED", str(exc)[:500]
    logger.info("directory layout recorded", extra={"indexed_attributes": list(indexed)})
    return "SUCCESS", f"layout {','.join(indexed) or 'none'}"


def answer_stack(event: dict[str, Any], context: Any) -> str:
    """Do the request, send CloudFormation its answer, and return its status."""
    status, reason = record_layout(event)
    body = {
        "Status": status,
        "Reason": f"{reason} (log stream {getattr(context, 'log_stream_name', '?')})",
        "PhysicalResourceId": LAYOUT_SUB,
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
    }
    data = json.dumps(body).encode()
    url = event["ResponseURL"]
    if not url.startswith(("https://", "http://127.0.0.1")):
        raise ValueError("ResponseURL must be CloudFormation's https pre-signed URL")
    headers = {"Content-Type": "", "Content-Length": str(len(data))}
    request = urllib.request.Request(url, data=data, method="PUT", headers=headers)  # noqa: S310 - checked above
    with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_SECONDS):  # noqa: S310 - checked above
        pass
    return status
