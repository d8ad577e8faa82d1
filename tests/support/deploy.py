"""What the deploy tests know about serverless.yml: its function keys and their logical ids."""

from __future__ import annotations

FUNCTIONS = (
    "postConfirmation",
    "postAuthentication",
    "api",
    "attributeSync",
    "reconcile",
    "userEvents",
    "repairUser",
    "directoryLayout",
    "groupMembers",
)


def function_logical_id(key: str) -> str:
    return f"{key[0].upper()}{key[1:]}LambdaFunction"
