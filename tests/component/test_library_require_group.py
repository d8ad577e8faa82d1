"""The library's privilege check, `require_group`: the token's group first, then the caller's own
row read fresh (live, enabled and, once its groups are known, still in the group), before anything
of the request is looked at; `caller_groups` by the same rule."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.exceptions import ForbiddenError
from botocore.exceptions import EndpointConnectionError

import cognito_mirror
from cognito_mirror import (
    AccessDeniedError,
    MirrorReader,
    MirrorUnavailableError,
    Profile,
    UserDisabledError,
)
from cognito_mirror._reader import default_reader
from models.table import mirror_table
from models.user import UserSnapshot, now_us
from tests.support.fixtures import TABLE
from tests.support.groups import write_groups
from tests.support.helpers import FakeLambdaContext, body, http_event

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"


@pytest.fixture(autouse=True)
def _fresh_reader() -> Any:
    default_reader.cache_clear()
    yield
    default_reader.cache_clear()


class Table:
    """A DynamoDB client that counts its GetItem calls and can be made to fail."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb")
        self.reads = 0
        self.down = False
        self.client.meta.events.register("before-send.dynamodb.GetItem", self._send)

    def _send(self, **_: Any) -> None:
        self.reads += 1
        if self.down:
            raise EndpointConnectionError(endpoint_url="http://dynamodb")


def member(groups: Any = "[admin]") -> dict[str, Any]:
    """An HTTP API event whose verified claims name the caller with these groups."""
    claims = {"sub": SUB, "username": "jane.doe", "token_use": "access", "cognito:groups": groups}
    return http_event("/admin-only", claims=claims)


def live(*, enabled: bool = True) -> None:
    """The caller's own row: enabled or not (a later call replaces an earlier one)."""
    attributes = {"email": "jane@example.com", "custom:tenant": "acme"}
    mirror_table().put_snapshot(
        UserSnapshot(SUB, "jane.doe", attributes, "CONFIRMED", enabled, now_us(), "t")
    )


def test_a_live_member_gets_their_own_profile() -> None:
    # Given a live, enabled user in the admin group
    live()
    # When a service requires the group
    own = MirrorReader(TABLE).require_group(member(), "admin")
    # Then it gets the caller's own profile
    assert isinstance(own, Profile)
    assert (own.sub, own.attributes["custom:tenant"]) == (SUB, "acme")


@pytest.mark.parametrize("groups", [None, "[]", "[ops]", "[ops,admin]", '["admin"]', "admin", ["admins"]])
def test_a_token_without_the_group_is_403_before_any_read(groups: Any) -> None:
    # Given a live user whose token does not hold exactly "admin"
    live()
    table = Table()
    # When a service requires the group
    with pytest.raises(AccessDeniedError) as refused:
        MirrorReader(TABLE, dynamodb=table.client).require_group(member(groups), "admin")
    # Then 403 Forbidden, a Powertools ForbiddenError, and the table was not read
    assert isinstance(refused.value, ForbiddenError)
    assert (refused.value.status_code, refused.value.msg) == (403, "Forbidden")
    assert table.reads == 0


def test_a_disabled_member_is_refused_as_disabled() -> None:
    # Given an admin whose user is disabled
    live(enabled=False)
    # When a service requires the group / Then UserDisabledError (403 "User is disabled")
    with pytest.raises(UserDisabledError) as refused:
        MirrorReader(TABLE).require_group(member(), "admin")
    assert (refused.value.status_code, refused.value.msg) == (403, "User is disabled")


@pytest.mark.parametrize("row", ["tombstone", "absent"])
def test_a_deleted_or_unknown_member_is_403_and_learns_nothing_more(row: str) -> None:
    # Given an admin whose user was deleted (a tombstone), or was never mirrored (no repair)
    if row == "tombstone":
        live()
        mirror_table().put_tombstone(SUB, observed_at=2_000_000_000_000_000, source="attribute_sync")
    # When a service requires the group
    with pytest.raises(AccessDeniedError) as refused:
        MirrorReader(TABLE).require_group(member(), "admin")
    # Then the same 403 as a missing group: not a 404
    assert (refused.value.status_code, refused.value.msg) == (403, "Forbidden")


def test_the_own_row_is_read_fresh_for_every_privileged_decision_but_me_stays_cached() -> None:
    # Given an admin's profile already in the reader's cache
    live()
    table = Table()
    reader = MirrorReader(TABLE, dynamodb=table.client)
    reader.get_caller_profile(member())
    # When the user is disabled, and then both kinds of call are made
    live(enabled=False)
    reads_before = table.reads
    with pytest.raises(UserDisabledError):
        reader.require_group(member(), "admin")
    # Then the privileged check read the row (one GetItem) and saw the disable; the row it read
    # refreshed the cache, so the caller's own reads refuse them too, with no further GetItem
    assert table.reads == reads_before + 1
    with pytest.raises(UserDisabledError):
        reader.get_caller_profile(member())
    assert table.reads == reads_before + 1


def test_each_privileged_decision_costs_one_get_item() -> None:
    # Given a live admin and a warm reader
    live()
    table = Table()
    reader = MirrorReader(TABLE, dynamodb=table.client)
    reader.require_group(member(), "admin")
    # When five more privileged requests arrive
    for _ in range(5):
        reader.require_group(member(), "admin")
    # Then each read the caller's row once: six in all
    assert table.reads == 6


def test_a_privilege_is_never_granted_on_a_stale_copy_while_the_table_fails() -> None:
    # Given an admin whose profile is cached (and would be served stale to their own reads)
    live()
    table = Table()
    reader = MirrorReader(TABLE, dynamodb=table.client, cache_ttl_seconds=0.001)
    reader.require_group(member(), "admin")
    # When DynamoDB fails
    table.down = True
    # Then the privileged check is a 503 to retry, while the caller's own read is served stale
    with pytest.raises(MirrorUnavailableError):
        reader.require_group(member(), "admin")
    assert reader.get_caller_profile(member()).sub == SUB


def test_an_unknown_member_costs_one_repair_per_not_found_ttl() -> None:
    # Given a caller in the admin group whom neither the mirror nor the repair knows
    repairs: list[str] = []

    def repair(sub: str, username: str | None) -> None:
        repairs.append(sub)

    reader = MirrorReader(TABLE, repair=repair, not_found_ttl_seconds=60)
    # When they make three privileged requests
    for _ in range(3):
        with pytest.raises(AccessDeniedError):
            reader.require_group(member(), "admin")
    # Then the repair was asked once: a remembered "no such user" refuses the next ones
    assert len(repairs) == 1


def test_the_module_level_helper_uses_the_default_reader() -> None:
    # Given a live admin and the environment's reader
    live()
    # When a handler calls cognito_mirror.require_group / Then it gets their profile, or a 403
    assert cognito_mirror.require_group(member(), "admin").sub == SUB
    with pytest.raises(AccessDeniedError):
        cognito_mirror.require_group(member(), "ops")


def test_in_a_users_resolver_the_refusals_answer_themselves() -> None:
    # Given a user's resolver with an admin-only route and no exception handler of theirs
    app = APIGatewayHttpResolver()

    @app.get("/admin-only")
    def admin_only() -> dict[str, Any]:
        return cognito_mirror.require_group(app.current_event, "admin").to_dict()

    live(enabled=False)
    # When a non-member and a disabled member call it
    outsider = app.resolve(member("[ops]"), FakeLambdaContext())
    disabled = app.resolve(member(), FakeLambdaContext())
    # Then Powertools answers each as JSON 403 with its message, never a 500
    assert (outsider["statusCode"], body(outsider)["message"]) == (403, "Forbidden")
    assert (disabled["statusCode"], body(disabled)["message"]) == (403, "User is disabled")


# --- the token ∩ the mirrored row ---------------------------------------------------------------


class Sink:
    """A Metrics stand-in: the names counted."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.names.append(name)


def test_a_member_by_token_and_by_row_is_allowed_and_their_profile_holds_the_groups() -> None:
    # Given a live admin whose mirrored groups (observed in Cognito) hold admin
    live()
    write_groups(SUB, ["admin", "ops"])
    # When a service requires the group
    own = MirrorReader(TABLE).require_group(member("[admin ops]"), "admin")
    # Then it gets their profile, with the groups the mirror observed
    assert own.groups == ("admin", "ops")
    assert own.to_dict()["groups"] == ["admin", "ops"]


@pytest.mark.parametrize("row_groups", [["ops"], []])
def test_a_member_removed_from_the_group_in_the_mirror_is_403_with_the_same_token(
    row_groups: list[str],
) -> None:
    # Given an admin still allowed, then removed from admin in Cognito (the mirror observed it)
    live()
    write_groups(SUB, ["admin"], observed_at=now_us())
    sink = Sink()
    reader = MirrorReader(TABLE, metrics=sink)
    reader.require_group(member(), "admin")
    write_groups(SUB, row_groups)
    # When the same, still valid token asks again
    with pytest.raises(AccessDeniedError) as refused:
        reader.require_group(member(), "admin")
    # Then 403 Forbidden, no more said, and the withdrawal counted (no group name in the metric)
    assert (refused.value.status_code, refused.value.msg) == (403, "Forbidden")
    assert sink.names.count("GroupRevokedByMirror") == 1


def test_a_row_whose_groups_are_unknown_leaves_the_token_to_decide() -> None:
    # Given a live admin whose row was written by a trigger: groups never observed
    live()
    # When a service requires the token's group, and another group
    reader = MirrorReader(TABLE)
    own = reader.require_group(member(), "admin")
    # Then the token decides: admin allowed, and the profile says its groups are unknown
    assert own.groups is None and own.to_dict()["groups"] is None
    with pytest.raises(AccessDeniedError):
        reader.require_group(member(), "ops")


def test_a_row_holding_a_group_the_token_lacks_grants_nothing() -> None:
    # Given a user added to admin in Cognito after their token was issued
    live()
    write_groups(SUB, ["admin"])
    table = Table()
    # When their old token asks for admin
    with pytest.raises(AccessDeniedError):
        MirrorReader(TABLE, dynamodb=table.client).require_group(member("[ops]"), "admin")
    # Then 403 before any read: a right comes with a new token only
    assert table.reads == 0


def test_a_removal_counts_on_the_next_request_although_the_profile_is_cached() -> None:
    # Given an admin whose profile (groups admin) is in the reader's cache
    live()
    write_groups(SUB, ["admin"], observed_at=now_us())
    reader = MirrorReader(TABLE, cache_ttl_seconds=3600)
    reader.get_caller_profile(member())
    # When the mirror observes the removal
    write_groups(SUB, [])
    # Then the next privileged request is refused: it never reads the cache
    with pytest.raises(AccessDeniedError):
        reader.require_group(member(), "admin")


@pytest.mark.parametrize("row", ["tombstone", "disabled"])
def test_a_deleted_or_disabled_member_stays_refused_whatever_the_groups(row: str) -> None:
    # Given an admin whose row holds admin, then is deleted or disabled
    live()
    write_groups(SUB, ["admin"])
    if row == "tombstone":
        mirror_table().put_tombstone(SUB, observed_at=now_us(), source="attribute_sync")
    else:
        live(enabled=False)
    # When a service requires the group / Then 403 as today (the tombstone holds no group)
    expected = AccessDeniedError if row == "tombstone" else UserDisabledError
    with pytest.raises(expected):
        MirrorReader(TABLE).require_group(member(), "admin")
    assert write_groups(SUB, ["admin"]) is (row == "disabled")


@pytest.mark.parametrize(
    ("token", "row_groups", "held"),
    [
        ("[admin ops]", ["ops", "billing"], {"ops"}),
        ("[admin ops]", None, {"admin", "ops"}),
        ("[admin]", [], set()),
    ],
)
def test_caller_groups_are_the_token_groups_the_row_still_holds(
    token: str, row_groups: list[str] | None, held: set[str]
) -> None:
    # Given a live user whose mirrored groups are known (or not)
    live()
    if row_groups is not None:
        write_groups(SUB, row_groups)
    # When a service asks which groups the caller holds / Then token ∩ row (unknown: the token)
    assert MirrorReader(TABLE).caller_groups(member(token)) == frozenset(held)
    assert cognito_mirror.caller_groups(member(token)) == frozenset(held)


def test_caller_groups_of_a_token_without_groups_read_nothing() -> None:
    # Given a token with no group
    table = Table()
    # When a service asks which groups the caller holds / Then none, and the table was not read
    assert MirrorReader(TABLE, dynamodb=table.client).caller_groups(member(None)) == frozenset()
    assert table.reads == 0
