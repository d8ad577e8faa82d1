"""The mirrored profile: immutable, built straight from a mirror row or a repair answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from cognito_mirror.record import row_from_item


@dataclass(frozen=True, slots=True)
class Profile:
    sub: str
    username: str
    attributes: Mapping[str, str]
    status: str
    enabled: bool
    updated_at: str
    # The user's Cognito groups as the mirror last observed them (sorted; () no group), or None:
    # not observed yet (a row written by a trigger or a read-through), never "no group".
    groups: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # A read-only copy: neither the caller nor the cache can change a shared profile.
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Profile:
        """A live mirror row (deserialized: `observed_at` in µs since the epoch)."""
        raw = row.get("attributes")
        attributes = (
            {str(k): v for k, v in raw.items() if isinstance(v, str)} if isinstance(raw, Mapping) else {}
        )
        updated = datetime.fromtimestamp(_micros(row.get("observed_at")) / 1_000_000, tz=UTC)
        groups = row.get("groups")
        return cls(
            sub=str(row["sub"]),
            username=str(row.get("username") or ""),
            attributes=attributes,
            status=str(row.get("status") or "UNKNOWN"),
            enabled=bool(row.get("enabled")),
            updated_at=updated.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            groups=_group_names(groups) if isinstance(groups, (tuple, list)) else None,
        )

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Profile:
        """A live mirror item as GetItem/Query return it (DynamoDB's wire format): `from_row` of
        the contract's row of it."""
        return cls.from_row(row_from_item(item))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """The `to_dict()` shape (the repair function's answer; without `groups`: unknown);
        ValueError when it is not that."""
        attributes = data.get("attributes")
        groups = data.get("groups")
        fields = (data.get("sub"), data.get("username"), data.get("status"), data.get("updated_at"))
        if (
            not all(isinstance(value, str) for value in fields)
            or not isinstance(data.get("enabled"), bool)
            or not isinstance(attributes, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items())
            or not (groups is None or (isinstance(groups, list) and all(isinstance(g, str) for g in groups)))
        ):
            raise ValueError("not a profile")
        return cls(
            sub=data["sub"],
            username=data["username"],
            attributes=attributes,
            status=data["status"],
            enabled=data["enabled"],
            updated_at=data["updated_at"],
            groups=None if groups is None else _group_names(groups),
        )

    def to_dict(self) -> dict[str, Any]:
        """A fresh JSON-ready dict (GET /me shape); changing it changes nothing here."""
        return {
            "sub": self.sub,
            "username": self.username,
            "attributes": dict(self.attributes),
            "status": self.status,
            "enabled": self.enabled,
            "updated_at": self.updated_at,
            "groups": None if self.groups is None else list(self.groups),
        }


def _group_names(values: tuple[Any, ...] | list[Any]) -> tuple[str, ...]:
    return tuple(sorted({value for value in values if isinstance(value, str)}))


# Timestamps past year 9999 cannot be shown; such a row's time is unknown (the epoch), as a missing one.
_MAX_MICROS = 253_402_300_800_000_000


def _micros(observed: Any) -> int:
    finite = isinstance(observed, int) or (isinstance(observed, Decimal) and observed.is_finite())
    if not finite:
        return 0
    micros = int(observed)
    return micros if 0 <= micros < _MAX_MICROS else 0
