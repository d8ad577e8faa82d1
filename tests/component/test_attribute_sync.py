"""attribute_sync: each CloudTrail event leaves the mirror exactly as Cognito's state says."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.helpers import FakeLambdaContext, load_event
from tests.support.sync_events import (
    HIDDEN,
    cloudtrail,
    cognito_now,
    emitted_metrics,
    eventbridge,
    failed_ids,
    mirror,
    mirror_now,
    sqs_batch,
)

Sync = Callable[..., dict[str, Any]]


@pytest.fixture
def sync() -> Sync:
    """Deliver SQS bodies to the handler, as Lambda's SQS event source does."""

    def deliver(*bodies: dict[str, Any] | str) -> dict[str, Any]:
        from functions.attribute_sync import handler

        response: dict[str, Any] = handler(sqs_batch(*bodies), FakeLambdaContext())
        return response

    return deliver


def event(cognito: Any, name: str, *, sub: str | None = None, username: str | None = None) -> dict[str, Any]:
    return eventbridge(cloudtrail(name, pool=cognito.id, sub=sub, username=username))


def assert_mirror_matches_cognito(cognito: Any, username: str, sub: str) -> None:
    current = cognito_now(cognito, username)
    stored = mirror(sub)
    assert stored is not None and not stored.is_tombstone
    assert stored.to_snapshot().same_state(current)
    assert stored.source == "attribute_sync"


# --- each event type --------------------------------------------------------------------------


def test_an_admin_created_user_appears_in_the_mirror(cognito, sync):
    # Given a user created by an administrator (no trigger runs for AdminCreateUser)
    sub = cognito.create_user("ann", email="ann@example.com", custom__tenant="acme")
    assert mirror(sub) is None

    # When its AdminCreateUser event arrives (the sub only in responseElements.user)
    response = sync(event(cognito, "admin_create_user", sub=sub, username="ann"))

    # Then the mirror holds the user as Cognito has it
    assert failed_ids(response) == []
    stored = mirror(sub).to_snapshot()
    assert stored.username == "ann"
    assert stored.status == "FORCE_CHANGE_PASSWORD"
    assert stored.attributes["custom:tenant"] == "acme"
    assert_mirror_matches_cognito(cognito, "ann", sub)


def test_admin_confirm_sign_up_stores_the_confirmed_status(cognito, sync):
    # Given a signed-up, unconfirmed user the mirror knows
    client_id = cognito.idp.create_user_pool_client(UserPoolId=cognito.id, ClientName="app")[
        "UserPoolClient"
    ]["ClientId"]
    sub = cognito.idp.sign_up(ClientId=client_id, Username="ben", Password="Passw0rd!Passw0rd")["UserSub"]
    mirror_now(cognito, "ben")
    assert mirror(sub).status == "UNCONFIRMED"

    # When an administrator confirms the user and the event arrives
    cognito.idp.admin_confirm_sign_up(UserPoolId=cognito.id, Username="ben")
    sync(event(cognito, "admin_confirm_sign_up", sub=sub, username="ben"))

    # Then the mirror says CONFIRMED
    assert mirror(sub).status == "CONFIRMED"
    assert_mirror_matches_cognito(cognito, "ben", sub)


def test_confirm_sign_up_by_the_user_is_mirrored_without_a_pool_in_the_record(cognito, sync):
    # Given a user who signed up; ConfirmSignUp's record names a client, not a pool
    client_id = cognito.idp.create_user_pool_client(UserPoolId=cognito.id, ClientName="app")[
        "UserPoolClient"
    ]["ClientId"]
    sub = cognito.idp.sign_up(
        ClientId=client_id,
        Username="cleo",
        Password="Passw0rd!Passw0rd",
        UserAttributes=[{"Name": "email", "Value": "cleo@example.com"}],
    )["UserSub"]

    # When the user confirms and the event arrives
    cognito.idp.confirm_sign_up(ClientId=client_id, Username="cleo", ConfirmationCode="123456")
    sync(event(cognito, "confirm_sign_up", sub=sub, username="cleo"))

    # Then the mirror holds the confirmed user
    assert mirror(sub).status == "CONFIRMED"
    assert_mirror_matches_cognito(cognito, "cleo", sub)


@pytest.mark.parametrize(
    ("fixture", "named_by"),
    [
        ("admin_update_user_attributes", "username"),  # admin call: username and sub
        ("update_user_attributes", "sub"),  # token call: only the sub, found via the mirror's username
    ],
)
def test_an_attribute_update_lands(cognito, sync, fixture, named_by):
    # Given a mirrored user
    sub = cognito.create_user("dan", email="dan@example.com", custom__tenant="acme")
    mirror_now(cognito, "dan")

    # When the attribute changes in Cognito and the event arrives
    cognito.idp.admin_update_user_attributes(
        UserPoolId=cognito.id, Username="dan", UserAttributes=[{"Name": "custom:tenant", "Value": "globex"}]
    )
    username = "dan" if named_by == "username" else None
    response = sync(event(cognito, fixture, sub=sub, username=username))

    # Then the new value is mirrored
    assert failed_ids(response) == []
    assert mirror(sub).to_snapshot().attributes["custom:tenant"] == "globex"
    assert_mirror_matches_cognito(cognito, "dan", sub)


def test_an_unverified_email_change_is_not_stored_until_verified(cognito, sync):
    # Given a mirrored user with a verified email, in a pool that keeps the original value
    # active while an update is pending (moto applies updates at once, so the pending change
    # is modelled by not applying it: Cognito's state keeps the old, verified email)
    sub = cognito.create_user("fay", email="fay@example.com", email_verified="true")
    mirror_now(cognito, "fay")
    change = cloudtrail("update_user_attributes", pool=cognito.id, sub=sub)
    change["requestParameters"]["userAttributes"] = [{"name": "email", "value": "fay@new.example"}]

    # When the UpdateUserAttributes event arrives, even one carrying the new value in clear
    sync(eventbridge(change))

    # Then the mirror still holds exactly what AdminGetUser returns: the old, verified email
    stored = mirror(sub).to_snapshot()
    assert stored.attributes["email"] == "fay@example.com"
    assert stored.attributes["email_verified"] == "true"
    assert_mirror_matches_cognito(cognito, "fay", sub)

    # When the user then verifies the code (Cognito now stores the new email) and the event arrives
    cognito.idp.admin_update_user_attributes(
        UserPoolId=cognito.id,
        Username="fay",
        UserAttributes=[
            {"Name": "email", "Value": "fay@new.example"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    sync(event(cognito, "verify_user_attribute", sub=sub))

    # Then the verified new email is mirrored
    assert mirror(sub).to_snapshot().attributes["email"] == "fay@new.example"
    assert_mirror_matches_cognito(cognito, "fay", sub)


@pytest.mark.parametrize("fixture", ["admin_delete_user_attributes", "delete_user_attributes"])
def test_a_deleted_attribute_disappears_from_the_mirror(cognito, sync, fixture):
    # Given a mirrored user with custom:plan
    sub = cognito.create_user("gus", email="gus@example.com", custom__plan="pro")
    mirror_now(cognito, "gus")

    # When the attribute is deleted and the event arrives
    cognito.idp.admin_delete_user_attributes(
        UserPoolId=cognito.id, Username="gus", UserAttributeNames=["custom:plan"]
    )
    sync(event(cognito, fixture, sub=sub, username="gus"))

    # Then the mirror no longer has it
    assert "custom:plan" not in mirror(sub).to_snapshot().attributes
    assert_mirror_matches_cognito(cognito, "gus", sub)


def test_disable_then_enable_is_mirrored(cognito, sync):
    # Given a mirrored, enabled user
    sub = cognito.create_user("hal", email="hal@example.com")
    mirror_now(cognito, "hal")

    # When an administrator disables the user and the event arrives
    cognito.idp.admin_disable_user(UserPoolId=cognito.id, Username="hal")
    sync(event(cognito, "admin_disable_user", sub=sub, username="hal"))

    # Then the mirror says enabled=false
    assert mirror(sub).enabled is False

    # When the user is enabled again and that event arrives
    cognito.idp.admin_enable_user(UserPoolId=cognito.id, Username="hal")
    sync(event(cognito, "admin_enable_user", sub=sub, username="hal"))

    # Then enabled=true again
    assert mirror(sub).enabled is True
    assert_mirror_matches_cognito(cognito, "hal", sub)


def test_admin_set_user_password_stores_the_status_change(cognito, sync):
    # Given a mirrored admin-created user that must change its password
    sub = cognito.create_user("ida", email="ida@example.com")
    mirror_now(cognito, "ida")
    assert mirror(sub).status == "FORCE_CHANGE_PASSWORD"

    # When an administrator sets a permanent password and the event arrives
    cognito.idp.admin_set_user_password(
        UserPoolId=cognito.id, Username="ida", Password="Passw0rd!Passw0rd", Permanent=True
    )
    sync(event(cognito, "admin_set_user_password", sub=sub, username="ida"))

    # Then the mirror says CONFIRMED
    assert mirror(sub).status == "CONFIRMED"


def test_admin_reset_user_password_stores_reset_required(cognito, sync):
    # Given a mirrored, confirmed user with a verified email
    sub = cognito.create_user("jon", email="jon@example.com", email_verified="true")
    cognito.idp.admin_set_user_password(
        UserPoolId=cognito.id, Username="jon", Password="Passw0rd!Passw0rd", Permanent=True
    )
    mirror_now(cognito, "jon")

    # When an administrator resets the password and the event arrives
    cognito.idp.admin_reset_user_password(UserPoolId=cognito.id, Username="jon")
    sync(event(cognito, "admin_reset_user_password", sub=sub, username="jon"))

    # Then the mirror says RESET_REQUIRED
    assert mirror(sub).status == "RESET_REQUIRED"


def test_a_linked_provider_identity_is_mirrored(cognito, sync):
    # Given a mirrored user (moto has no AdminLinkProviderForUser: the link is modelled by the
    # `identities` attribute Cognito maintains for linked users)
    sub = cognito.create_user("kim", email="kim@example.com")
    mirror_now(cognito, "kim")
    identities = '[{"providerName":"Google","providerType":"Google","userId":"1234567890"}]'
    cognito.idp.admin_update_user_attributes(
        UserPoolId=cognito.id, Username="kim", UserAttributes=[{"Name": "identities", "Value": identities}]
    )

    # When the AdminLinkProviderForUser event arrives (user named by destinationUser only)
    sync(event(cognito, "admin_link_provider_for_user", username="kim"))

    # Then the mirror holds the linked identity
    assert mirror(sub).to_snapshot().attributes["identities"] == identities
    assert_mirror_matches_cognito(cognito, "kim", sub)


def test_admin_delete_user_tombstones_and_a_late_update_does_not_resurrect(cognito, sync):
    # Given a mirrored user
    sub = cognito.create_user("lea", email="lea@example.com")
    mirror_now(cognito, "lea")

    # When the user is deleted and the AdminDeleteUser event (username only) arrives
    cognito.idp.admin_delete_user(UserPoolId=cognito.id, Username="lea")
    sync(event(cognito, "admin_delete_user", username="lea"))

    # Then the row is a tombstone
    assert mirror(sub).is_tombstone

    # When an older update event arrives late (out of order)
    sync(event(cognito, "admin_update_user_attributes", sub=sub, username="lea"))

    # Then the user stays deleted
    assert mirror(sub).is_tombstone


def test_delete_user_by_the_user_tombstones_through_the_mirrored_username(cognito, sync):
    # Given a mirrored user; DeleteUser's record carries only the sub (token call, no pool)
    sub = cognito.create_user("max", email="max@example.com")
    mirror_now(cognito, "max")

    # When the user deletes itself and the event arrives
    cognito.idp.admin_delete_user(UserPoolId=cognito.id, Username="max")
    sync(event(cognito, "delete_user", sub=sub))

    # Then the row is a tombstone
    assert mirror(sub).is_tombstone


# --- ignored events ---------------------------------------------------------------------------


def test_other_events_pools_and_sources_are_ignored_and_counted(cognito, sync, capsys):
    # Given a mirrored user and four events that are not ours to sync
    sub = cognito.create_user("ned", email="ned@example.com")
    before = mirror_now(cognito, "ned")
    cognito.idp.admin_update_user_attributes(
        UserPoolId=cognito.id, Username="ned", UserAttributes=[{"Name": "custom:plan", "Value": "pro"}]
    )
    other_name = event(cognito, "admin_initiate_auth", sub=sub, username="ned")
    other_pool = eventbridge(
        cloudtrail("admin_update_user_attributes", pool="eu-west-1_OTHERPOOL", sub=sub, username="ned")
    )
    other_source = event(cognito, "admin_update_user_attributes", sub=sub, username="ned")
    other_source["detail"]["eventSource"] = "cognito-identity.amazonaws.com"
    failed_call = event(cognito, "admin_update_user_attributes", sub=sub, username="ned")
    failed_call["detail"]["errorCode"] = "NotAuthorizedException"
    capsys.readouterr()

    # When they arrive in one batch
    response = sync(other_name, other_pool, other_source, failed_call)

    # Then none fails, none touches the mirror, and each kind is counted
    assert failed_ids(response) == []
    assert mirror(sub).to_snapshot() == before
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["SyncIgnoredEventName"] == 1
    assert metrics["SyncIgnoredUserPool"] == 1
    assert metrics["SyncIgnoredEventSource"] == 1
    assert metrics["SyncIgnoredFailedCall"] == 1
    assert metrics["SyncSnapshotWritten"] == 0


def test_a_cloudtrail_service_event_is_acknowledged_and_counted(cognito, sync, capsys):
    # Given a mirrored user and a hosted-UI token call, which EventBridge delivers as an
    # "AWS Service Event via CloudTrail" naming our pool and the user's sub
    sub = cognito.create_user("ola", email="ola@example.com")
    before = mirror_now(cognito, "ola")
    service_event = load_event("eventbridge_aws_service_event")
    service_event["detail"]["additionalEventData"].update(userPoolId=cognito.id, sub=sub)
    capsys.readouterr()

    # When it arrives
    response = sync(service_event)

    # Then it is acknowledged (not retried, never in the DLQ), counted, and the mirror is untouched
    assert failed_ids(response) == []
    assert mirror(sub).to_snapshot() == before
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["SyncIgnoredDetailType"] == 1
    assert metrics["SyncMalformedRecord"] == 0


def test_an_unconfirmed_deletion_is_acknowledged_counted_and_logged_by_sub(cognito, sync, capsys, caplog):
    # Given a DeleteUser record for a sub no mirrored row ties to a username (and no metric left
    # over from tests that call the sync logic without the handler)
    from functions.common.observability import metrics

    metrics.clear_metrics()
    sub = "11111111-0000-0000-0000-0000000000aa"
    capsys.readouterr()

    # When it arrives
    response = sync(event(cognito, "delete_user", sub=sub))

    # Then it is acknowledged, nothing is written, and it is counted and logged (the sub only)
    assert failed_ids(response) == []
    assert mirror(sub) is None
    captured = capsys.readouterr()
    assert emitted_metrics(captured.out)["SyncDeletionUnconfirmed"] == 1
    assert [getattr(r, "sub", None) for r in caplog.records if "no evidence" in r.getMessage()] == [sub]


def test_a_record_naming_no_user_is_counted_and_not_retried(cognito, sync, capsys):
    # Given an AdminDeleteUser record whose username is redacted and which carries no sub
    redacted = event(cognito, "admin_delete_user", username=HIDDEN)
    capsys.readouterr()

    # When it arrives
    response = sync(redacted)

    # Then it is acknowledged (retrying cannot help) and counted
    assert failed_ids(response) == []
    assert emitted_metrics(capsys.readouterr().out)["SyncUnidentified"] == 1


# --- batches: partial failure, redelivery, ordering -------------------------------------------


def test_a_poison_record_fails_alone(cognito, sync, capsys):
    # Given a batch with two good events around a non-JSON body and a non-EventBridge object
    a = cognito.create_user("oli", email="oli@example.com")
    b = cognito.create_user("pam", email="pam@example.com")
    batch = [
        event(cognito, "admin_create_user", sub=a, username="oli"),
        "{not json",
        {"Records": []},
        event(cognito, "admin_create_user", sub=b, username="pam"),
    ]

    capsys.readouterr()

    # When the batch is delivered
    response = sync(*batch)

    # Then only the poison records are reported failed (SQS retries them, then the DLQ)
    assert failed_ids(response) == ["msg-1", "msg-2"]
    assert mirror(a) is not None
    assert mirror(b) is not None
    assert emitted_metrics(capsys.readouterr().out)["SyncMalformedRecord"] == 2


def throttle_cognito(monkeypatch: pytest.MonkeyPatch, sub: str, username: str) -> None:
    """Cognito answers TooManyRequestsException to AdminGetUser for `username`."""
    from botocore.exceptions import ClientError

    from functions.common.cognito import cognito_client

    client = cognito_client()
    real = client.admin_get_user

    def throttled(**kwargs: Any) -> Any:
        if kwargs["Username"] == username:
            error: Any = {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}
            raise ClientError(error, "AdminGetUser")
        return real(**kwargs)

    monkeypatch.setattr(client, "admin_get_user", throttled)


def refuse_mirror_write(monkeypatch: pytest.MonkeyPatch, sub: str, username: str) -> None:
    """DynamoDB refuses the write of `sub`."""
    from models.errors import TableUnavailableError
    from models.table import MirrorTable

    real_put = MirrorTable.put_snapshot

    def flaky_put(table: MirrorTable, snapshot: Any) -> Any:
        if snapshot.sub == sub:
            raise TableUnavailableError("mirror write failed: ProvisionedThroughputExceededException")
        return real_put(table, snapshot)

    monkeypatch.setattr(MirrorTable, "put_snapshot", flaky_put)


def break_mirror_lookup(monkeypatch: pytest.MonkeyPatch, sub: str, username: str) -> None:
    """A bug: the mirror lookup of `sub` raises something unexpected."""
    from functions.common import sync as sync_logic
    from models.record import MirrorRecord
    from models.table import MirrorTable, mirror_table

    class BrokenLookup(MirrorTable):
        def get_record(self, wanted: str, *, consistent: bool = False) -> MirrorRecord | None:
            if wanted == sub:
                raise RuntimeError("a bug")
            return super().get_record(wanted, consistent=consistent)

    broken = BrokenLookup(mirror_table().config)
    monkeypatch.setattr(sync_logic, "mirror_table", lambda: broken)


@pytest.mark.parametrize(
    ("fault", "metric"),
    [
        (throttle_cognito, "SyncCognitoThrottled"),
        (refuse_mirror_write, "SyncDependencyFailed"),
        (break_mirror_lookup, "SyncUnexpectedError"),
    ],
)
def test_a_failing_record_fails_alone_and_is_counted(cognito, sync, monkeypatch, capsys, fault, metric):
    # Given two users, and a fault that hits only the first one's record
    a = cognito.create_user("quinn", email="quinn@example.com")
    b = cognito.create_user("rae", email="rae@example.com")
    fault(monkeypatch, a, "quinn")
    capsys.readouterr()

    # When both events arrive in one batch
    response = sync(
        event(cognito, "admin_create_user", sub=a, username="quinn"),
        event(cognito, "admin_create_user", sub=b, username="rae"),
    )

    # Then only the first record is reported for retry, the other user is mirrored, and it is counted
    assert failed_ids(response) == ["msg-0"]
    assert mirror(a) is None
    assert mirror(b) is not None
    assert emitted_metrics(capsys.readouterr().out)[metric] == 1


def test_a_record_with_a_malformed_event_name_is_ignored(cognito, sync):
    # Given a CloudTrail record whose eventName is not a string
    odd = event(cognito, "admin_disable_user", username="nobody")
    odd["detail"]["eventName"] = ["AdminDisableUser"]

    # When it arrives
    response = sync(odd)

    # Then it is acknowledged as an event we do not sync
    assert failed_ids(response) == []


def test_an_all_failed_batch_reports_every_record(cognito, sync):
    # Given a batch of poison records only
    # When it is delivered
    response = sync("[", "]")

    # Then every record is reported (no invocation error), so SQS retries exactly those
    assert failed_ids(response) == ["msg-0", "msg-1"]


def test_a_redelivered_batch_leaves_the_newest_state(cognito, sync):
    # Given a user updated twice, both events delivered once
    sub = cognito.create_user("uma", email="uma@example.com", custom__plan="free")
    first = event(cognito, "admin_update_user_attributes", sub=sub, username="uma")
    cognito.idp.admin_update_user_attributes(
        UserPoolId=cognito.id, Username="uma", UserAttributes=[{"Name": "custom:plan", "Value": "pro"}]
    )
    second = event(cognito, "admin_update_user_attributes", sub=sub, username="uma")
    sync(first, second)
    settled = mirror(sub).to_snapshot()

    # When SQS delivers the same batch again
    response = sync(first, second)

    # Then nothing fails and the mirror still holds Cognito's newest state
    assert failed_ids(response) == []
    assert mirror(sub).to_snapshot().same_state(settled)
    assert mirror(sub).to_snapshot().attributes["custom:plan"] == "pro"
    assert_mirror_matches_cognito(cognito, "uma", sub)


def test_out_of_order_events_leave_the_newest_state(cognito, sync):
    # Given a user created, then disabled, then updated, with the events delivered newest first
    sub = cognito.create_user("val", email="val@example.com", custom__plan="free")
    created = event(cognito, "admin_create_user", sub=sub, username="val")
    cognito.idp.admin_disable_user(UserPoolId=cognito.id, Username="val")
    disabled = event(cognito, "admin_disable_user", sub=sub, username="val")
    cognito.idp.admin_update_user_attributes(
        UserPoolId=cognito.id, Username="val", UserAttributes=[{"Name": "custom:plan", "Value": "pro"}]
    )
    updated = event(cognito, "admin_update_user_attributes", sub=sub, username="val")

    # When they arrive in reverse order, in separate batches
    for delivered in (updated, disabled, created):
        sync(delivered)

    # Then the mirror holds the final state
    stored = mirror(sub).to_snapshot()
    assert stored.enabled is False
    assert stored.attributes["custom:plan"] == "pro"
    assert_mirror_matches_cognito(cognito, "val", sub)


def test_without_user_pool_id_the_whole_invocation_fails(cognito, sync, monkeypatch):
    # Given a deployment without USER_POOL_ID
    from models.settings import ConfigurationError, get_settings

    monkeypatch.delenv("USER_POOL_ID")
    get_settings.cache_clear()

    # When a batch arrives
    # Then the invocation fails loudly (SQS retries the whole batch; nothing is lost)
    with pytest.raises(ConfigurationError):
        sync(event(cognito, "admin_disable_user", username="nobody"))


def test_logs_carry_subs_and_attribute_names_never_values(cognito, sync, monkeypatch):
    # Given the logger's output captured (main's conftest has an equivalent `log_output` fixture)
    import io

    from functions.common.observability import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    sub = cognito.create_user("wes", email="wes.private@example.com", custom__tenant="tenant-secret-42")
    poison = json.dumps({"detail-type": "Scheduled Event", "email": "leak.me@example.com"})

    # When an event for the user and a malformed record carrying an email are processed
    sync(event(cognito, "admin_create_user", sub=sub, username="wes"), poison)

    # Then the logs name the user's sub and attribute names, and hold no attribute value
    logs = stream.getvalue()
    assert sub in logs and "custom:tenant" in logs
    for value in ("wes.private@example.com", "tenant-secret-42", "leak.me@example.com"):
        assert value not in logs


def test_a_record_whose_sub_ends_in_a_newline_is_refused_as_unidentified_not_retried(cognito, sync, capsys):
    from tests.support.users import mirror_user

    # Given a mirrored user, and a disable event whose only identifier is their sub plus a newline
    sub = cognito.create_user("nel", email="nel@example.com")
    mirror_user(sub, "nel", {"email": "nel@example.com"})
    record = event(cognito, "admin_disable_user", sub=f"{sub}\n", username=HIDDEN)
    capsys.readouterr()

    # When it arrives
    response = sync(record)

    # Then no sub is taken from it: acknowledged and counted (retrying cannot help), nothing written
    assert failed_ids(response) == []
    assert emitted_metrics(capsys.readouterr().out)["SyncUnidentified"] == 1
    stored = mirror(sub)
    assert stored is not None and not stored.is_tombstone and stored.enabled
    assert mirror(f"{sub}\n") is None
