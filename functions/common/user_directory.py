"""GET /users: who may list what, the query's parameters, and one page of profiles.

Administrators (MIRROR_ADMIN_GROUP) query any indexed attribute, or list a group's members
(`?group=`, from the group-members table). Tenant administrators (MIRROR_TENANT_ADMIN_GROUP) list
their own tenant only: the value of MIRROR_TENANT_ATTRIBUTE on their own mirrored row, never a
claim, a parameter or a cursor. Everyone else: 403.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler.exceptions import BadRequestError, ForbiddenError

from cognito_mirror import AccessDeniedError, Profile
from cognito_mirror.group_members import valid_group
from cognito_mirror.record import normalise_value
from functions.common.cursor import CursorError, decode_cursor, encode_cursor
from models.directory import Continuation, DirectoryPage, query_group_members, query_users
from models.errors import DirectoryQueryError
from models.settings import get_settings
from models.user import UserSnapshot

PARAMETERS = ("email", "attribute", "value", "group", "limit", "cursor", "unverified")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_USAGE = (
    "use ?email=<address>, ?attribute=<name>&value=<value> or ?group=<name>, with optional limit, "
    "cursor and unverified=true (e-mail lookups: addresses nobody verified too)"
)
# What a group listing's cursor is bound to in place of an attribute (no attribute starts with '#').
GROUP_CURSOR = "#group"


@dataclass(frozen=True)
class UsersQuery:
    attribute: str
    value: str
    limit: int
    cursor: str | None
    # E-mail lookups: users whose address is not verified too.
    include_unverified: bool = False
    # A group listing (attribute and value empty): the members of this group.
    group: str | None = None


def parse_users_query(params: Mapping[str, str] | None) -> UsersQuery:
    """The query of GET /users, or BadRequestError naming what is allowed."""
    params = params or {}
    if not set(params) <= set(PARAMETERS):
        raise BadRequestError(f"unknown parameter (allowed: {', '.join(PARAMETERS)}): {_USAGE}")
    if "group" in params:
        return _group_query(params)
    email, attribute, value = params.get("email"), params.get("attribute"), params.get("value")
    if (email is None) == (attribute is None):
        raise BadRequestError(f"give exactly one of email or attribute: {_USAGE}")
    if email is not None:
        if value is not None:
            raise BadRequestError(f"value goes with attribute, not with email: {_USAGE}")
        attribute, value = "email", email
    assert attribute is not None
    indexed = get_settings().indexed_attributes
    if attribute not in indexed:
        allowed = ", ".join(indexed) or "none (no attribute is indexed)"
        raise BadRequestError(f"attribute must be an indexed attribute: {allowed}")
    if value is None or not value.strip():
        raise BadRequestError("value must not be empty")
    limit = _limit(params)
    unverified = params.get("unverified", "false")
    if unverified not in ("true", "false"):
        raise BadRequestError("unverified must be true or false")
    return UsersQuery(attribute, value, limit, params.get("cursor"), unverified == "true")


def _group_query(params: Mapping[str, str]) -> UsersQuery:
    """`?group=<name>`, alone with limit and cursor."""
    if set(params) - {"group", "limit", "cursor"}:
        raise BadRequestError(f"group goes alone (with optional limit and cursor): {_USAGE}")
    group = params["group"]
    if not valid_group(group):
        raise BadRequestError("group must be a Cognito group name (1-128 characters, no spaces)")
    return UsersQuery("", "", _limit(params), params.get("cursor"), group=group)


def _limit(params: Mapping[str, str]) -> int:
    raw_limit = params.get("limit", str(DEFAULT_LIMIT))
    # Length first: int() refuses numbers of more than 4,300 digits with a ValueError.
    digits = len(raw_limit) <= len(str(MAX_LIMIT)) and raw_limit.isascii() and raw_limit.isdigit()
    if not (digits and 1 <= int(raw_limit) <= MAX_LIMIT):
        raise BadRequestError(f"limit must be a whole number in 1..{MAX_LIMIT}")
    return int(raw_limit)


def authorised_query(params: Mapping[str, str] | None, require_group: Callable[[str], Profile]) -> UsersQuery:
    """The caller's query, if they may run it. `require_group(group)` is the library's check of a
    privilege (the token's group, then the caller's own live row, read fresh): AccessDeniedError or
    UserDisabledError (403) unless they are an administrator, or a tenant administrator listing the
    tenant of that row. Parameters are checked (BadRequestError) only after the caller passed it."""
    settings = get_settings()
    try:
        require_group(settings.admin_group)
    except AccessDeniedError:
        own = require_group(settings.tenant_admin_group)
    else:
        return parse_users_query(params)
    query = parse_users_query(params)
    if query.group is not None or query.attribute != settings.tenant_attribute:
        raise ForbiddenError("Forbidden")
    tenant = normalise_value(settings.tenant_attribute, own.attributes.get(settings.tenant_attribute, ""))
    if not tenant or tenant != normalise_value(query.attribute, query.value):
        raise ForbiddenError("Forbidden")
    return query


def _profile(user: UserSnapshot) -> dict[str, Any]:
    row = {
        "sub": user.sub,
        "username": user.username,
        "attributes": user.attributes,
        "status": user.status,
        "enabled": user.enabled,
        "observed_at": user.observed_at,
    }
    return Profile.from_row(row).to_dict()


def list_users(query: UsersQuery) -> dict[str, Any]:
    """One page: {"users": [<profile>...], "cursor": <next page's cursor or None>}."""
    # A group listing's cursor is bound to the group as an attribute query's is to its value.
    bound, value = (GROUP_CURSOR, query.group) if query.group is not None else (query.attribute, query.value)
    unverified = query.include_unverified
    try:
        after = decode_cursor(bound, value, query.cursor, unverified=unverified) if query.cursor else None
        page = _page(query, after)
    except (CursorError, DirectoryQueryError) as exc:
        raise BadRequestError(str(exc)) from exc
    # A dependency down (the table, the cursor key's secret) is the plain DependencyUnavailableError,
    # answered 503 by the handler.
    cursor = encode_cursor(bound, value, page.next, unverified=unverified) if page.next else None
    return {"users": [_profile(user) for user in page.users], "cursor": cursor}


def _page(query: UsersQuery, after: Continuation | None) -> DirectoryPage:
    if query.group is not None:
        return query_group_members(query.group, limit=query.limit, after=after)
    return query_users(
        query.attribute,
        query.value,
        limit=query.limit,
        after=after,
        include_unverified=query.include_unverified,
    )
