"""Faults during the membership sync: a record whose group read or members query fails fails alone,
and its redelivery converges on Cognito's membership."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.support.sync_events import (
    GROUP_MEMBERS_TABLE,
    cloudtrail,
    create_group_members_table,
    deliver,
    emitted_metrics,
    eventbridge,
    failed_ids,
    mirror,
    record_membership,
)


def throttled() -> Exception:
    return ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "injected"}}, "call")


def failed() -> Exception:
    return ClientError({"Error": {"Code": "InternalErrorException", "Message": "injected"}}, "call")


def hung() -> Exception:
    return ReadTimeoutError(endpoint_url="https://cognito-idp.eu-west-1.amazonaws.com")


FAULTS: dict[str, tuple[Callable[[], Exception], str]] = {
    "throttled": (throttled, "SyncCognitoThrottled"),
    "500": (failed, "SyncDependencyFailed"),
    "hang": (hung, "SyncDependencyFailed"),
}


def membership_record(cognito: Any, username: str) -> dict[str, Any]:
    detail = cloudtrail("admin_add_user_to_group", pool=cognito.id, username=username)
    return eventbridge(detail)


def known_groups(sub: str) -> tuple[str, ...] | None:
    record = mirror(sub)
    if record is None or record.groups_observed_at is None:
        return None
    return tuple(sorted(record.groups or ()))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failed_group_read_fails_its_record_alone_and_redelivery_converges(
    cognito, monkeypatch, capsys, fault
):
    from functions.common.cognito import cognito_client

    # Given two users in `admin` (the test pool has the group), one AdminAddUserToGroup record each
    subs = {}
    for name in ("ok-user", "doomed-user"):
        subs[name] = cognito.create_user(name)
        cognito.idp.admin_add_user_to_group(UserPoolId=cognito.id, Username=name, GroupName="admin")
    records = [membership_record(cognito, name) for name in subs]
    # And AdminListGroupsForUser failing for the second user only
    client = cognito_client(False)
    real = client.admin_list_groups_for_user
    error, metric = FAULTS[fault]

    def flaky(**kwargs: Any) -> Any:
        if kwargs["Username"] == "doomed-user":
            raise error()
        return real(**kwargs)

    monkeypatch.setattr(client, "admin_list_groups_for_user", flaky)
    capsys.readouterr()

    # When the batch is delivered
    response = deliver(*records)

    # Then only the second record fails, counted; its user is mirrored, its groups still unknown
    assert failed_ids(response) == ["msg-1"]
    assert emitted_metrics(capsys.readouterr().out)[metric] == 1
    assert known_groups(subs["ok-user"]) == ("admin",)
    assert mirror(subs["doomed-user"]) is not None
    assert known_groups(subs["doomed-user"]) is None

    # When the fault is over and SQS redelivers the record
    monkeypatch.setattr(client, "admin_list_groups_for_user", real)
    # Then it succeeds and the membership is Cognito's
    assert failed_ids(deliver(records[1])) == []
    assert known_groups(subs["doomed-user"]) == ("admin",)


def test_a_failed_members_query_fails_the_delete_group_record_and_redelivery_converges(
    cognito, ddb, monkeypatch
):
    from models.group_members import group_members_table
    from tests.support.fixtures import reset_process_state

    # Given a member of `admin` as the mirror has it, and the group deleted in Cognito
    create_group_members_table(ddb)
    monkeypatch.setenv("MIRROR_GROUP_MEMBERS_TABLE", GROUP_MEMBERS_TABLE)
    reset_process_state()
    sub = cognito.create_user("member")
    cognito.idp.admin_add_user_to_group(UserPoolId=cognito.id, Username="member", GroupName="admin")
    deliver(membership_record(cognito, "member"))
    record_membership(ddb, "admin", sub, member=True, observed_at=1)
    cognito.idp.delete_group(UserPoolId=cognito.id, GroupName="admin")
    detail = cloudtrail("delete_group", pool=cognito.id)
    # And DynamoDB refusing the members query
    client = group_members_table().client
    real = client.query

    def refused(**kwargs: Any) -> Any:
        if kwargs["TableName"] == GROUP_MEMBERS_TABLE:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "Query")
        return real(**kwargs)

    monkeypatch.setattr(client, "query", refused)

    # When the DeleteGroup record arrives / Then it fails and the member keeps the group meanwhile
    assert failed_ids(deliver(eventbridge(detail))) == ["msg-0"]
    assert known_groups(sub) == ("admin",)

    # When DynamoDB is back and SQS redelivers it / Then the member lost the group
    monkeypatch.setattr(client, "query", real)
    assert failed_ids(deliver(eventbridge(detail))) == []
    assert known_groups(sub) == ()
