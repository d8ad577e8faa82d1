"""Who holds a group now: the token ∩ the mirrored row.

A token's `cognito:groups` is a snapshot taken when it was issued; the mirrored row's `groups` is
what the mirror last observed in Cognito. A caller holds a group only if both say so: the mirror can
take a right away before the token expires, never grant one the token lacks. A row whose groups are
unknown (written by a trigger or a read-through, or before the mirror observed memberships) leaves
the token alone to decide.
"""

from __future__ import annotations

from collections.abc import Callable

from cognito_mirror._errors import AccessDeniedError
from cognito_mirror._identity import Caller
from cognito_mirror.record import Profile

# Counted each time the mirrored row refuses a group the token still holds (a withdrawn privilege).
REVOKED_METRIC = "GroupRevokedByMirror"


def held_groups(token_groups: frozenset[str], row_groups: tuple[str, ...] | None) -> frozenset[str]:
    """The groups a caller holds: the token's, less those a known row no longer holds."""
    if row_groups is None or not token_groups:
        return token_groups
    return token_groups.intersection(row_groups)


def require_held(
    caller: Caller, group: str, own_profile: Callable[[Caller], Profile], count: Callable[[str], None]
) -> Profile:
    """The caller's own profile (`own_profile`: read fresh, live and enabled, else it raises) if they
    hold `group`; else AccessDeniedError, the same "Forbidden" whichever side refused."""
    if group not in caller.groups:
        raise AccessDeniedError("the token does not hold the required group")
    own = own_profile(caller)
    if group not in held_groups(caller.groups, own.groups):
        count(REVOKED_METRIC)
        raise AccessDeniedError("the mirrored row no longer holds the required group")
    return own


def held_by(caller: Caller, own_profile: Callable[[Caller], Profile]) -> frozenset[str]:
    """Every group the caller holds, by the same rule (no group in the token: nothing read)."""
    if not caller.groups:
        return caller.groups
    return held_groups(caller.groups, own_profile(caller).groups)
