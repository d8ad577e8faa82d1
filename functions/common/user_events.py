"""User change events: one DynamoDB Streams record of the mirror table → at most one event.

The mirror's rows are full snapshots, so an event is the difference between the record's old and new
images (read by the record contract's codec, `cognito_mirror.record.row_from_item`):

- no live row before (none, or a tombstone later repaired), a live row now → `User Created`;
- a live row before and after, with a different attribute, status or enabled flag → `User Updated`
  (a disable or enable is an update whose changes include `enabled`); so is a change of the row's
  groups, or their first observation (unknown → known): `changes` names `groups`;
- a live row (or none) before, a tombstone now → `User Deleted`, once;
- anything else publishes nothing: a write that changed only `observed_at`/`source` (every sign-in)
  or only `groups_observed_at` (the same membership observed again),
  a tombstone over a tombstone, any REMOVE (the TTL expiry of a tombstone, or a live row removed
  outside the mirror: not a Cognito deletion, see `removed_live_row`), reserved rows (`#...`, skipped
  before any other field is read).

Least data: `username` travels only with the values (`full` payload, created/updated); a deletion
names the sub alone.

An event's version is the row's newest observation, of its profile (`observed_at`) or of its groups
(`groups_observed_at`), and always above the version of the row it replaces (that version + 1 µs
when an older observation landed after a newer one of the other kind, or a deletion came with an
older time): a user's events are strictly ordered by version, as the stream orders them. The
event id is deterministic (UUIDv5 of sub, version and type, and of `groups_observed_at` once the
groups are known): a redelivered record yields the same event, so consumers can drop duplicates
by id. Contract and schemas: docs/EVENTS.md, schemas/events/.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from cognito_mirror import Profile
from cognito_mirror.record import is_reserved, is_tombstone, row_from_item

EVENT_SOURCE = "cognito-attribute-mirror"
USER_CREATED = "User Created"
USER_UPDATED = "User Updated"
USER_DELETED = "User Deleted"
DETAIL_TYPES = (USER_CREATED, USER_UPDATED, USER_DELETED)
# Payload modes (models.settings.EVENT_PAYLOADS): `names` leaves every value out.
PAYLOAD_FULL = "full"
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:cognito-attribute-mirror:user-events")
ATTRIBUTE_PREFIX = "attributes."


class MalformedStreamRecordError(ValueError):
    """A stream record the mirror could not have written (its message never holds values)."""


@dataclass(frozen=True)
class UserEvent:
    detail_type: str
    sub: str
    version: int
    detail: dict[str, Any]


def event_id(sub: str, version: int, detail_type: str, groups_version: int | None = None) -> str:
    """The id of a row state's event: the membership's version tells apart a change of groups
    observed before the profile's newest observation (same version) from that profile's event."""
    name = f"{sub}|{version}|{detail_type}"
    return str(uuid.uuid5(_ID_NAMESPACE, name if groups_version is None else f"{name}|{groups_version}"))


@dataclass(frozen=True)
class _Row:
    """The fields of a mirror row that events are made of."""

    sub: str
    username: str | None
    attributes: dict[str, str]
    status: str | None
    enabled: bool | None
    observed_at: int
    source: str
    is_tombstone: bool
    # Sorted names (() no group) and when they were observed; both None: unknown.
    groups: tuple[str, ...] | None = None
    groups_observed_at: int | None = None

    @property
    def version(self) -> int:
        """The row's newest observation: of its profile, or of its groups."""
        return max(self.observed_at, self.groups_observed_at or 0)

    def profile(self) -> dict[str, Any]:
        # The GET /me shape, read from the row the way every reader of the mirror reads it.
        return Profile.from_row(asdict(self)).to_dict()


def reserved_image(image: Mapping[str, Any] | None) -> bool:
    """A reserved row (`#...`): never a user, whatever else it holds. Every consumer of the
    table's stream skips them so, before reading any other field."""
    if not image:
        return False
    try:
        return is_reserved(str(image["sub"]["S"]))
    except (KeyError, TypeError):
        return False


def image_row(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The contract's row of a stream image (None for none); an image without a readable sub is
    MalformedStreamRecordError. Every consumer of the table's stream reads its images so."""
    if not image:
        return None
    try:
        row = row_from_item(image)
    except (AttributeError, KeyError, TypeError) as exc:
        raise MalformedStreamRecordError(f"unreadable row image ({type(exc).__name__})") from exc
    if not isinstance(row["sub"], str) or not row["sub"]:
        raise MalformedStreamRecordError("row image without a sub")
    return row


def _row(image: dict[str, Any] | None) -> _Row | None:
    """The row of an image, read by the contract's codec; a row the mirror could not have written
    (no sub, no whole-number version, no writer) is MalformedStreamRecordError."""
    row = image_row(image)
    if row is None:
        return None
    observed, source = row["observed_at"], row["source"]
    if not whole(observed) or not isinstance(source, str):
        raise MalformedStreamRecordError("unreadable row image (observed_at or source)")
    return _Row(
        sub=row["sub"],
        username=row["username"],
        attributes=row["attributes"] or {},
        status=row["status"],
        enabled=row["enabled"],
        observed_at=int(observed),
        source=source,
        is_tombstone=row["deleted"],
        groups=row["groups"],
        groups_observed_at=int(groups_at) if whole(groups_at := row["groups_observed_at"]) else None,
    )


def whole(number: Decimal | None) -> bool:
    """A version: a finite whole number."""
    return number is not None and number.is_finite() and number == number.to_integral_value()


def _changes(old: _Row | None, new: _Row) -> tuple[list[str], dict[str, Any]]:
    """What changed from `old` to `new` (sorted names) and the previous values of those."""
    before = old.attributes if old is not None else {}
    after = new.attributes
    names = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    changes = [ATTRIBUTE_PREFIX + name for name in names]
    previous: dict[str, Any] = {}
    if names:
        previous["attributes"] = {name: before.get(name) for name in names}
    for field in ("enabled", "status", "groups"):
        old_value = getattr(old, field) if old is not None else None
        if old_value != getattr(new, field):
            changes.append(field)
            previous[field] = list(old_value) if isinstance(old_value, tuple) else old_value
    return sorted(changes), previous


def _detail(detail_type: str, row: _Row, changes: list[str], replaced: _Row | None) -> dict[str, Any]:
    # Above the replaced row's version: a profile observed before the groups' newest observation
    # (or a deletion stamped earlier) still orders after the event that state published.
    version = row.version if replaced is None else max(row.version, replaced.version + 1)
    return {
        "id": event_id(row.sub, version, detail_type, row.groups_observed_at),
        "sub": row.sub,
        "version": version,
        "writer": row.source,
        "changes": changes,
    }


def user_event(
    old_image: dict[str, Any] | None, new_image: dict[str, Any] | None, *, payload: str = PAYLOAD_FULL
) -> UserEvent | None:
    """The event of one stream record (its old and new images), or None when nothing changed."""
    if reserved_image(new_image) or reserved_image(old_image):
        return None
    old, new = _row(old_image), _row(new_image)
    if new is None:
        return None  # REMOVE: a tombstone's expiry (already published), or see removed_live_row
    if new.is_tombstone:
        if old is not None and old.is_tombstone:
            return None
        # Least data: who was deleted (the sub), never a name or a value the archive would keep.
        detail = _detail(USER_DELETED, new, [], old)
        return UserEvent(USER_DELETED, new.sub, detail["version"], detail)
    if old is not None and old.is_tombstone:
        old = None  # a wrong tombstone repaired: the user is (re)created
    changes, previous = _changes(old, new)
    if old is not None and not changes:
        return None  # only observed_at/source (a sign-in, a re-read) or groups_observed_at moved
    detail_type = USER_CREATED if old is None else USER_UPDATED
    detail = _detail(detail_type, new, changes, old)
    if payload == PAYLOAD_FULL:
        if new.username is not None:
            detail["username"] = new.username
        detail["profile"] = new.profile()
        if detail_type == USER_UPDATED:
            detail["previous"] = previous
    return UserEvent(detail_type, new.sub, detail["version"], detail)


def removed_live_row(old_image: dict[str, Any] | None, new_image: dict[str, Any] | None) -> bool:
    """A REMOVE of a live user's row (by hand, or a TTL set on it): no event, since the user still
    exists in Cognito and the mirror's next read or reconcile writes the row back (`User Created`)."""
    if new_image or not old_image or reserved_image(old_image):
        return False
    return not is_tombstone(old_image)


def without_values(event: UserEvent) -> UserEvent:
    """The same event in `names` form (no username, profile or previous values)."""
    values = ("username", "profile", "previous")
    detail = {key: value for key, value in event.detail.items() if key not in values}
    return UserEvent(event.detail_type, event.sub, event.version, detail)
