"""CloudTrail records as the sync reads them: which events count, and who (or which group) a
record is about.

A record is a signal, never data: its values can be redacted (`HIDDEN_FOR_SECURITY_REASONS`),
stale or out of order, so only identifiers are taken from it (a `sub`, a username, or both; a
group's name) and only when they have a usable shape. Nothing here calls AWS.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from cognito_mirror.group_members import MAX_GROUP_NAME, valid_group
from cognito_mirror.record import valid_sub
from functions.common.observability import loggable
from models.user import iso_time_us

DETAIL_TYPE = "AWS API Call via CloudTrail"
EVENT_SOURCE = "cognito-idp.amazonaws.com"

# The calls that change a user without any Cognito trigger seeing it.
SYNCED_EVENTS = frozenset(
    {
        "AdminCreateUser",
        "AdminConfirmSignUp",
        "ConfirmSignUp",
        "AdminUpdateUserAttributes",
        "UpdateUserAttributes",
        "VerifyUserAttribute",
        "AdminDeleteUserAttributes",
        "DeleteUserAttributes",
        "AdminDisableUser",
        "AdminEnableUser",
        "AdminDeleteUser",
        "DeleteUser",
        "AdminLinkProviderForUser",
        "AdminSetUserPassword",
        "AdminResetUserPassword",
        # Group membership: the user's groups are re-read; a deleted group leaves every member.
        "AdminAddUserToGroup",
        "AdminRemoveUserFromGroup",
        "DeleteGroup",
    }
)
DELETION_EVENTS = frozenset({"AdminDeleteUser", "DeleteUser"})
MEMBERSHIP_EVENTS = frozenset({"AdminAddUserToGroup", "AdminRemoveUserFromGroup"})
GROUP_DELETION = "DeleteGroup"
# AWS documents HIDDEN_FOR_SECURITY_REASONS; CloudTrail's event history shows HIDDEN_DUE_TO_....
_HIDDEN_SUFFIX = "_SECURITY_REASONS"
_MAX_USERNAME = 128
# What a record's own identifiers must look like to be logged: CloudTrail event ids are GUIDs, API
# names are CamelCase of two words or more. Anything else (a forged or mangled record) may carry
# personal data, so it is logged as its type only.
EVENT_ID_SHAPE = re.compile(r"^[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
API_NAME_SHAPE = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+$")


class MalformedSyncRecordError(ValueError):
    """The SQS body is not an EventBridge event: it fails alone and ends in the DLQ."""


@dataclass(frozen=True)
class UserSignal:
    """Who a CloudTrail record is about; either field may be unknown (None)."""

    event_name: str
    event_id: str
    sub: str | None
    username: str | None
    # True when the record names our pool; False when it names none (token-authorized calls).
    pool_named: bool
    # When the call happened (the record's eventTime, µs since the epoch); None when unreadable.
    changed_at: int | None = None
    # The group a membership or group call names (a usable Cognito group name), else None.
    group: str | None = None

    @property
    def is_deletion(self) -> bool:
        return self.event_name in DELETION_EVENTS

    @property
    def is_membership(self) -> bool:
        return self.event_name in MEMBERSHIP_EVENTS

    @property
    def is_group_deletion(self) -> bool:
        return self.event_name == GROUP_DELETION


def parse_event(body: str) -> EventBridgeEvent:
    """The EventBridge event carried in an SQS body: a `detail-type` string and a `detail` object."""
    try:
        payload = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedSyncRecordError("body is not JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedSyncRecordError("body is not a JSON object")
    if not isinstance(payload.get("detail-type"), str) or not isinstance(payload.get("detail"), dict):
        raise MalformedSyncRecordError("body is not an EventBridge event with a detail object")
    return EventBridgeEvent(payload)


def _text(value: Any, limit: int) -> str | None:
    """A usable identifier: a non-empty string that is not redacted."""
    if not isinstance(value, str) or not value or len(value) > limit or value.endswith(_HIDDEN_SUFFIX):
        return None
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pool_of(detail: dict[str, Any]) -> str | None:
    """The pool a record names: request, additional data, or a `resources` ARN (in that order)."""
    for holder in (_dict(detail.get("requestParameters")), _dict(detail.get("additionalEventData"))):
        pool = _text(holder.get("userPoolId"), 64)
        if pool:
            return pool
    for resource in detail.get("resources") or ():
        arn = _text(_dict(resource).get("ARN"), 256)
        if arn and ":userpool/" in arn:
            return arn.rsplit("/", 1)[1]
    return None


def _sub_of(detail: dict[str, Any]) -> str | None:
    response = _dict(detail.get("responseElements"))
    candidates = [_dict(detail.get("additionalEventData")).get("sub"), response.get("userSub")]
    for attribute in _dict(response.get("user")).get("attributes") or ():
        attribute = _dict(attribute)
        if attribute.get("name") == "sub":
            candidates.append(attribute.get("value"))
    for candidate in candidates:
        sub = _text(candidate, 128)
        if sub and valid_sub(sub):
            return sub
    return None


def _username_of(detail: dict[str, Any]) -> str | None:
    request = _dict(detail.get("requestParameters"))
    destination = _dict(request.get("destinationUser"))  # AdminLinkProviderForUser
    linked = None
    if destination.get("providerName") == "Cognito":
        linked = destination.get("providerAttributeValue")
    created = _dict(_dict(detail.get("responseElements")).get("user")).get("username")
    for candidate in (request.get("username"), linked, created):
        username = _text(candidate, _MAX_USERNAME)
        if username:
            return username
    return None


def _group_of(detail: dict[str, Any]) -> str | None:
    group = _text(_dict(detail.get("requestParameters")).get("groupName"), MAX_GROUP_NAME)
    return group if valid_group(group) else None


def ignore_reason(detail: dict[str, Any], user_pool_id: str) -> str | None:
    """Why this record is not ours to sync (a metric name), or None."""
    if detail.get("eventSource") != EVENT_SOURCE:
        return "SyncIgnoredEventSource"
    name = detail.get("eventName")
    if not isinstance(name, str) or name not in SYNCED_EVENTS:
        return "SyncIgnoredEventName"
    if detail.get("errorCode"):
        return "SyncIgnoredFailedCall"  # the call failed: nothing changed in Cognito
    pool = _pool_of(detail)
    if pool is not None and pool != user_pool_id:
        return "SyncIgnoredUserPool"
    return None


def signal_from_detail(detail: dict[str, Any]) -> UserSignal:
    return UserSignal(
        event_name=str(detail.get("eventName")),
        event_id=loggable(detail.get("eventID"), EVENT_ID_SHAPE),
        sub=_sub_of(detail),
        username=_username_of(detail),
        pool_named=_pool_of(detail) is not None,
        changed_at=iso_time_us(detail.get("eventTime")),
        group=_group_of(detail),
    )
