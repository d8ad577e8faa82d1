"""The user snapshot every writer produces: its conversion from Cognito's shapes, and to and from the
record contract's row (cognito_mirror/record.py)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

from models.errors import MalformedUserError

# Standard attributes of a Cognito user pool (OIDC standard claims Cognito supports).
STANDARD_ATTRIBUTES = frozenset(
    {
        "address",
        "birthdate",
        "email",
        "email_verified",
        "family_name",
        "gender",
        "given_name",
        "identities",
        "locale",
        "middle_name",
        "name",
        "nickname",
        "phone_number",
        "phone_number_verified",
        "picture",
        "preferred_username",
        "profile",
        "updated_at",
        "website",
        "zoneinfo",
    }
)
CUSTOM_PREFIX = "custom:"
# Cognito caps an attribute value at 2048 characters; anything longer is not a real value.
MAX_VALUE_CHARS = 2048
MAX_ATTRIBUTES = 128
# The username is the `username-index` key: DynamoDB refuses index keys over 2048 bytes (UTF-8).
MAX_KEY_BYTES = 2048


def now_us() -> int:
    """The observation clock: integer microseconds since the epoch."""
    return time.time_ns() // 1000


def iso_time_us(value: object) -> int | None:
    """An ISO 8601 moment with its zone (`2026-12-06T10:00:00Z`) in µs since the epoch, or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1_000_000) if moment.tzinfo is not None else None


def is_allowed(name: str, allowlist: frozenset[str] | None) -> bool:
    if allowlist is None:
        return name in STANDARD_ATTRIBUTES or name.startswith(CUSTOM_PREFIX)
    if name in allowlist:
        return True
    return name.startswith(CUSTOM_PREFIX) and "custom:*" in allowlist


def filter_attributes(
    raw: Mapping[str, Any], allowlist: frozenset[str] | None
) -> tuple[dict[str, str], list[str]]:
    """Keep allow-listed string attributes; return them and the names dropped as invalid."""
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in raw.items():
        if not isinstance(name, str) or not is_allowed(name, allowlist):
            continue
        if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS or len(kept) >= MAX_ATTRIBUTES:
            dropped.append(name[:64])
            continue
        kept[name] = value
    return kept, dropped


@dataclass(frozen=True)
class UserSnapshot:
    """A full picture of one user as observed at `observed_at` (µs since the epoch)."""

    sub: str
    username: str
    attributes: dict[str, str]
    status: str
    enabled: bool
    observed_at: int
    source: str
    dropped: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> UserSnapshot:
        """The user of a live row of the contract (cognito_mirror.record.row_from_item): no PynamoDB
        object per item, a listing reads thousands."""
        return cls(
            sub=row["sub"],
            username=row["username"] or "",
            attributes=row["attributes"] or {},
            status=row["status"] or "UNKNOWN",
            enabled=bool(row["enabled"]),
            observed_at=int(row["observed_at"]),
            source=row["source"] or "",
        )

    def row(self) -> dict[str, Any]:
        """The live row of the contract it is stored as (cognito_mirror.record.item_from_row writes it)."""
        return {
            "sub": self.sub,
            "username": self.username,
            "attributes": self.attributes,
            "status": self.status,
            "enabled": self.enabled,
            "observed_at": self.observed_at,
            "source": self.source,
            "deleted": False,
        }

    def same_state(self, other: UserSnapshot) -> bool:
        """True when both describe the same user state (times and sources aside)."""
        return (
            self.sub == other.sub
            and self.username == other.username
            and self.attributes == other.attributes
            and self.status == other.status
            and self.enabled == other.enabled
        )


def _require_sub(attrs: Mapping[str, Any]) -> str:
    sub = attrs.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise MalformedUserError("no usable sub")
    return sub


def usable_username(value: object) -> TypeGuard[str]:
    """A non-empty string that fits a DynamoDB index key (else every write of it would fail)."""
    if not isinstance(value, str) or not value:
        return False
    return len(value.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES


def attribute_list_to_dict(items: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Cognito's `[{"Name": n, "Value": v}, ...]` as a dict."""
    out: dict[str, Any] = {}
    for item in items or ():
        if isinstance(item, Mapping) and isinstance(item.get("Name"), str):
            out[item["Name"]] = item.get("Value")
    return out


def snapshot_from_cognito_user(
    user: Mapping[str, Any],
    *,
    allowlist: frozenset[str] | None,
    source: str,
    observed_at: int | None = None,
) -> UserSnapshot:
    """From an AdminGetUser response (`UserAttributes`) or a ListUsers `UserType` (`Attributes`)."""
    raw = attribute_list_to_dict(user.get("UserAttributes", user.get("Attributes")))
    username = user.get("Username")
    if not usable_username(username):
        raise MalformedUserError("no username")
    attributes, dropped = filter_attributes(raw, allowlist)
    return UserSnapshot(
        sub=_require_sub(raw),
        username=username,
        attributes=attributes,
        status=str(user.get("UserStatus") or "UNKNOWN"),
        enabled=bool(user.get("Enabled", True)),
        observed_at=observed_at if observed_at is not None else now_us(),
        source=source,
        dropped=tuple(dropped),
    )


def snapshot_from_trigger(
    user_name: Any,
    user_attributes: Any,
    *,
    allowlist: frozenset[str] | None,
    source: str,
    default_status: str = "CONFIRMED",
) -> UserSnapshot:
    """From a Cognito trigger's `userName` and `request.userAttributes`.

    Triggers only run for enabled users; `cognito:user_status` carries the status when present.
    """
    if not isinstance(user_attributes, Mapping):
        raise MalformedUserError("userAttributes is not an object")
    sub = _require_sub(user_attributes)
    if not usable_username(user_name):
        raise MalformedUserError("no usable userName")
    attributes, dropped = filter_attributes(user_attributes, allowlist)
    status = user_attributes.get("cognito:user_status")
    return UserSnapshot(
        sub=sub,
        username=user_name,
        attributes=attributes,
        status=status if isinstance(status, str) and status else default_status,
        enabled=True,
        observed_at=now_us(),
        source=source,
        dropped=tuple(dropped),
    )
