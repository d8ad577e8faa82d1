"""functions.common.sync: who a CloudTrail record is about, and when a tombstone is justified."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.sync_events import FIXTURE_POOL, HIDDEN, cloudtrail, eventbridge, mirror, mirror_now


def run(detail: dict[str, Any], pool: str) -> Any:
    from functions.common.sync import sync_message

    return sync_message(json.dumps(eventbridge(detail)), user_pool_id=pool)


# --- reading the record -----------------------------------------------------------------------


def test_identifiers_come_from_sub_username_and_created_user():
    # Given records of three shapes
    from functions.common.cloudtrail import signal_from_detail

    token_call = cloudtrail("update_user_attributes", pool=FIXTURE_POOL, sub="sub-1")
    admin_call = cloudtrail("admin_delete_user", pool=FIXTURE_POOL, username="bob")
    created = cloudtrail("admin_create_user", pool=FIXTURE_POOL, sub="sub-2", username="amy")

    # When they are read
    # Then each yields who it is about, and whether it names a pool
    token = signal_from_detail(token_call)
    assert (token.sub, token.username, token.pool_named) == ("sub-1", None, False)
    admin = signal_from_detail(admin_call)
    assert (admin.sub, admin.username, admin.pool_named, admin.is_deletion) == (None, "bob", True, True)
    new = signal_from_detail(created)
    assert (new.sub, new.username) == ("sub-2", "amy")


@pytest.mark.parametrize("redacted", ["HIDDEN_FOR_SECURITY_REASONS", "HIDDEN_DUE_TO_SECURITY_REASONS"])
def test_redacted_values_are_never_taken_for_identifiers(redacted):
    # Given a record whose username and sub are redacted
    from functions.common.cloudtrail import signal_from_detail

    detail = cloudtrail("admin_disable_user", pool=FIXTURE_POOL, sub=redacted, username=redacted)

    # When it is read
    signal = signal_from_detail(detail)

    # Then it names no user
    assert (signal.sub, signal.username) == (None, None)


def test_the_pool_is_read_from_additional_data_or_a_resource_arn():
    # Given token-call records naming the pool outside requestParameters
    from functions.common.cloudtrail import ignore_reason

    in_additional = cloudtrail("delete_user", pool=FIXTURE_POOL)
    in_additional["additionalEventData"]["userPoolId"] = "eu-west-1_OTHER"
    in_resources = cloudtrail("delete_user", pool=FIXTURE_POOL)
    in_resources["resources"] = [
        {"accountId": "123456789012", "type": "AWS::Cognito::UserPool",
         "ARN": "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_OTHER"}
    ]  # fmt: skip

    # When they are checked against our pool
    # Then both are another pool's events
    assert ignore_reason(in_additional, "eu-west-1_MINE") == "SyncIgnoredUserPool"
    assert ignore_reason(in_resources, "eu-west-1_MINE") == "SyncIgnoredUserPool"
    assert ignore_reason(in_resources, "eu-west-1_OTHER") is None


@pytest.mark.parametrize(
    "body",
    [
        "",
        "null",
        "[1, 2]",
        json.dumps({"detail": {}}),
        json.dumps({"detail-type": 7, "detail": {}}),
        json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": "text"}),
    ],
)
def test_bodies_that_are_not_eventbridge_events_are_malformed(body):
    # Given an SQS body that is not an EventBridge event (no detail-type string or detail object)
    from functions.common.cloudtrail import MalformedSyncRecordError, parse_event

    # When it is parsed
    # Then it is rejected (the record fails alone and ends in the DLQ)
    with pytest.raises(MalformedSyncRecordError):
        parse_event(body)


# --- finding the user -------------------------------------------------------------------------


def test_a_sub_unknown_to_the_mirror_is_found_with_list_users(cognito):
    # Given a user the mirror does not know, and a token-call record with only its sub
    from functions.common.sync import SyncResult

    sub = cognito.create_user("ada", email="ada@example.com")

    # When the record is synced
    result = run(cloudtrail("update_user_attributes", pool=cognito.id, sub=sub), cognito.id)

    # Then the user is found by sub and written
    assert result == SyncResult(written=[sub])
    assert mirror(sub).username == "ada"


def test_a_request_username_that_no_longer_resolves_is_confirmed_by_sub(cognito):
    # Given a live user, and a record whose username is a name that no longer resolves
    # (an alias such as an email that has since changed)
    sub = cognito.create_user("ada", email="ada@example.com")
    detail = cloudtrail("admin_update_user_attributes", pool=cognito.id, sub=sub, username="old@example.com")

    # When the record is synced
    result = run(detail, cognito.id)

    # Then the sub is looked up before anything is decided: the live user is written, not deleted
    assert result.written == [sub] and result.tombstoned == []
    assert not mirror(sub).is_tombstone


def list_users_lags(monkeypatch: pytest.MonkeyPatch) -> None:
    """ListUsers does not list anybody yet (it lags new users); AdminGetUser answers as usual."""
    from functions.common import sync as sync_logic

    real = sync_logic.read_user

    def lagging(**kwargs: Any) -> Any:
        return None if kwargs.get("username") is None else real(**kwargs)

    monkeypatch.setattr(sync_logic, "read_user", lagging)


def test_a_forged_record_with_an_unresolvable_username_never_tombstones_a_live_user(cognito, monkeypatch):
    # Given a live user the mirror does not hold yet, ListUsers lagging, and a record naming our pool,
    # that user's sub and a username that resolves to nobody (forged, or a name that moved)
    sub = cognito.create_user("ada", email="ada@example.com")
    list_users_lags(monkeypatch)
    detail = cloudtrail("admin_update_user_attributes", pool=cognito.id, sub=sub, username="ghost")

    # When the record is synced
    result = run(detail, cognito.id)

    # Then nothing is tombstoned: the silence is counted as an unconfirmed deletion, not believed
    assert result.tombstoned == [] and result.unconfirmed == [sub]
    assert mirror(sub) is None


def test_a_username_answered_by_another_user_never_tombstones_the_mirrored_sub(cognito, monkeypatch):
    # Given a mirrored live user whose row's username AdminGetUser resolves, as an alias, to another
    # user (Cognito answers with that user's own Username), and ListUsers lagging
    from functions.common import sync as sync_logic
    from models.user import UserSnapshot

    sub = cognito.create_user("ada", email="ada@example.com")
    mirror_now(cognito, "ada")
    list_users_lags(monkeypatch)
    other = UserSnapshot("99999999-0000-0000-0000-000000000009", "zed", {}, "CONFIRMED", True, 1, "x")
    real = sync_logic.read_user
    monkeypatch.setattr(
        sync_logic, "read_user", lambda **kw: other if kw.get("username") == "ada" else real(**kw)
    )

    # When a record with the sub alone is synced
    result = run(cloudtrail("update_user_attributes", pool=cognito.id, sub=sub), cognito.id)

    # Then the mirrored sub stays live: another user behind the name is no evidence for this sub
    assert result.tombstoned == [] and result.unconfirmed == [sub]
    assert not mirror(sub).is_tombstone


def test_silence_from_list_users_alone_never_tombstones(cognito):
    # Given a sub Cognito cannot find (ListUsers may lag a brand-new user) and a non-deleting event
    sub = "11111111-2222-3333-4444-555555555555"
    detail = cloudtrail("update_user_attributes", pool=cognito.id, sub=sub)
    detail["additionalEventData"]["userPoolId"] = cognito.id

    # When the record is synced
    result = run(detail, cognito.id)

    # Then nothing is written
    assert result.not_found and result.tombstoned == []
    assert mirror(sub) is None


def test_a_deletion_of_an_unmirrored_sub_writes_nothing_and_is_counted_unconfirmed(cognito):
    # Given DeleteUser records for users the mirror never held: one naming our pool, one no pool
    ours, unnamed = "11111111-0000-0000-0000-000000000001", "11111111-0000-0000-0000-000000000002"
    named = cloudtrail("delete_user", pool=cognito.id, sub=ours)
    named["additionalEventData"]["userPoolId"] = cognito.id

    # When both are synced
    first = run(named, cognito.id)
    second = run(cloudtrail("delete_user", pool=cognito.id, sub=unnamed), cognito.id)

    # Then no mirrored row ties a username to either sub, so nothing is evidence: no row is written
    # (a late event re-reads Cognito and finds nobody; reconcile is the backstop) and both are counted
    assert (first.unconfirmed, second.unconfirmed) == ([ours], [unnamed])
    assert first.tombstoned == second.tombstoned == []
    assert mirror(ours) is None and mirror(unnamed) is None


def test_a_tombstoned_sub_is_not_read_from_cognito_again(cognito, monkeypatch):
    # Given a deleted user's tombstone, and a Cognito client that must not be called
    from functions.common import sync as sync_logic
    from models.table import mirror_table

    sub = "11111111-0000-0000-0000-000000000003"
    mirror_table().put_tombstone(sub, observed_at=1, source="test")

    def no_cognito(**kwargs: Any) -> Any:
        raise AssertionError("Cognito was called for a deleted user")

    monkeypatch.setattr(sync_logic, "read_user", no_cognito)

    # When a late event for it arrives
    result = run(cloudtrail("update_user_attributes", pool=cognito.id, sub=sub), cognito.id)

    # Then it is skipped
    assert result.unchanged == [sub]
    assert mirror(sub).is_tombstone


# --- a reused username ------------------------------------------------------------------------


def reuse_username(cognito: Any) -> tuple[str, str]:
    """`bob` mirrored, deleted, and the name taken by a new user: (old sub, new sub)."""
    old = cognito.create_user("bob", email="bob@example.com")
    mirror_now(cognito, "bob")
    cognito.idp.admin_delete_user(UserPoolId=cognito.id, Username="bob")
    new = cognito.create_user("bob", email="robert@example.com")
    return old, new


def test_a_late_event_for_a_reused_name_tombstones_the_old_sub_and_keeps_the_new(cognito):
    # Given `bob` reused by a new user, and a late token-call event for the old sub
    old, new = reuse_username(cognito)

    # When it is synced (the mirror's username for the old sub now resolves to the new user)
    result = run(cloudtrail("update_user_attributes", pool=cognito.id, sub=old), cognito.id)

    # Then the old sub is tombstoned and the new user is mirrored live
    assert result.tombstoned == [old] and result.written == [new]
    assert mirror(old).is_tombstone
    assert not mirror(new).is_tombstone


def test_a_late_admin_delete_for_a_reused_name_never_tombstones_the_live_user(cognito):
    # Given `bob` reused by a new user, and the old user's AdminDeleteUser event (username only)
    old, new = reuse_username(cognito)

    # When it arrives late
    result = run(cloudtrail("admin_delete_user", pool=cognito.id, username="bob"), cognito.id)

    # Then the old sub is tombstoned, the new user written, never tombstoned
    assert result.tombstoned == [old]
    assert mirror(old).is_tombstone
    assert not mirror(new).is_tombstone


def test_a_name_taken_during_the_index_query_is_kept_live(cognito, monkeypatch):
    # Given `bob` mirrored and deleted; a new `bob` is created and mirrored while we query the index
    from functions.common import sync as sync_logic
    from models.table import MirrorTable, mirror_table

    old = cognito.create_user("bob", email="bob@example.com")
    mirror_now(cognito, "bob")
    cognito.idp.admin_delete_user(UserPoolId=cognito.id, Username="bob")
    taken: list[str] = []

    class RacingTable(MirrorTable):
        def find_subs_by_username(self, username: str) -> list[str]:
            taken.append(cognito.create_user("bob", email="robert@example.com"))
            mirror_now(cognito, "bob")
            return super().find_subs_by_username(username)

    racing = RacingTable(mirror_table().config)
    monkeypatch.setattr(sync_logic, "mirror_table", lambda: racing)

    # When an event naming `bob` finds nobody, then queries the index
    detail = cloudtrail("admin_update_user_attributes", pool=cognito.id, username="bob")
    del detail["additionalEventData"]
    run(detail, cognito.id)

    # Then only the old sub is tombstoned
    assert mirror(old).is_tombstone
    assert not mirror(taken[0]).is_tombstone


def test_a_username_nobody_holds_or_mirrors_writes_nothing(cognito):
    # Given a username that exists neither in Cognito nor in the mirror
    detail = cloudtrail("admin_update_user_attributes", pool=cognito.id, username="ghost")
    del detail["additionalEventData"]

    # When the record is synced
    result = run(detail, cognito.id)

    # Then nothing is written
    assert result.not_found and result.written == [] and result.tombstoned == []


def test_redacted_username_with_hidden_constant_names_no_user(cognito):
    # Given an admin record with its username redacted and no sub
    detail = cloudtrail("admin_disable_user", pool=cognito.id, username=HIDDEN)
    del detail["additionalEventData"]

    # When it is synced
    result = run(detail, cognito.id)

    # Then it is ignored as unidentified
    assert result.ignored == "SyncUnidentified"
