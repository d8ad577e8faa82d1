"""Faults during sync: only the records that hit them fail; their redelivery converges on Cognito.

Faults are injected below the application, in botocore's `before-send` step of the real clients
(the mirror's pynamodb client and the sync's Cognito client), so botocore's retries and error
parsing and our translation of its errors all run. Only requests that name a doomed user fail:
DynamoDB answers ProvisionedThroughputExceeded / ThrottlingException / a 500 or cannot be reached;
Cognito answers TooManyRequests / a 500 or times out reading (a hang, without the wait).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from tests.support.helpers import FakeLambdaContext
from tests.support.sync_events import cloudtrail, cognito_now, eventbridge, failed_ids, mirror, sqs_batch

USERS = 6
DOOMED = (1, 4)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _answer(status: int, code: str) -> Callable[[Any], AWSResponse]:
    def respond(request: Any) -> AWSResponse:
        body = json.dumps({"__type": code, "message": "injected"}).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))

    return respond


def _unreachable(request: Any) -> AWSResponse:
    raise EndpointConnectionError(endpoint_url=request.url)


def _hang(request: Any) -> AWSResponse:
    raise ReadTimeoutError(endpoint_url=request.url)


FAULTS: dict[str, tuple[str, Callable[[Any], AWSResponse]]] = {
    "dynamodb ProvisionedThroughputExceeded": (
        "dynamodb",
        _answer(400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
    ),
    "dynamodb ThrottlingException": ("dynamodb", _answer(400, "ThrottlingException")),
    "dynamodb 500": ("dynamodb", _answer(500, "InternalServerError")),
    "dynamodb unreachable": ("dynamodb", _unreachable),
    "cognito TooManyRequests": ("cognito", _answer(400, "TooManyRequestsException")),
    "cognito 500": ("cognito", _answer(500, "InternalErrorException")),
    "cognito hang": ("cognito", _hang),
}


def deliver(bodies: list[dict[str, Any]], ids: list[int]) -> list[str]:
    """Deliver records `ids` (SQS keeps message ids across redeliveries); the failed ids."""
    from functions.attribute_sync import handler

    batch = sqs_batch(*bodies)
    batch["Records"] = [batch["Records"][i] for i in ids]
    return sorted(failed_ids(handler(batch, FakeLambdaContext())))


def set_plan(cognito: Any, username: str, plan: str) -> None:
    cognito.idp.admin_update_user_attributes(
        UserPoolId=cognito.id, Username=username, UserAttributes=[{"Name": "custom:plan", "Value": plan}]
    )


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_faults_fail_exactly_the_records_that_hit_them_and_redelivery_converges(
    cognito, fault, record_property
):
    from functions.common.cognito import cognito_client
    from models.table import mirror_table

    # Given six users whose plan changed in Cognito, one AdminUpdateUserAttributes record each
    users = []
    for i in range(USERS):
        username = f"fault-user-{i}"
        sub = cognito.create_user(username, email=f"{username}@example.com", custom__tenant="t")
        set_plan(cognito, username, "pro")
        users.append((sub, username))
    bodies = [
        eventbridge(cloudtrail("admin_update_user_attributes", pool=cognito.id, sub=s, username=u))
        for s, u in users
    ]
    # and a fault on every request that names users 1 and 4
    service, respond = FAULTS[fault]
    doomed = {users[i][0 if service == "dynamodb" else 1] for i in DOOMED}
    injected: list[str] = []

    def inject(request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        if armed and any(json.dumps(name) in body for name in doomed):
            injected.append(body[:40])
            return respond(request)
        return None

    armed = True
    if service == "dynamodb":
        mirror_table().client.meta.events.register_first("before-send.dynamodb", inject)
    else:
        cognito_client(False).meta.events.register_first("before-send.cognito-identity-provider", inject)

    # When the batch is delivered
    failed = deliver(bodies, list(range(USERS)))

    # Then exactly the doomed records fail; the others are in the mirror as Cognito has them
    armed = False
    record_property("requests_failed_by_injection", len(injected))
    assert failed == [f"msg-{i}" for i in DOOMED]
    assert injected
    for i, (sub, username) in enumerate(users):
        stored = mirror(sub)
        if i in DOOMED:
            assert stored is None
        else:
            assert stored is not None and stored.to_snapshot().same_state(cognito_now(cognito, username))

    # When the fault is over, one doomed user changed again meanwhile, and SQS redelivers the failed
    set_plan(cognito, users[DOOMED[0]][1], "enterprise")
    failed_again = deliver(bodies, list(DOOMED))

    # Then nothing fails and the whole mirror equals Cognito's current state
    assert failed_again == []
    for sub, username in users:
        stored = mirror(sub)
        assert stored is not None and not stored.is_tombstone
        assert stored.to_snapshot().same_state(cognito_now(cognito, username))
    assert mirror(users[DOOMED[0]][0]).attributes["custom:plan"] == "enterprise"
