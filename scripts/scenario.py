"""Actions against a running local stack, shared by `make demo` and the integration tests.

Everything goes through the stack's public surfaces: cognito-local's Cognito API, the HTTP API and
the Lambda invoke API of serverless-offline, DynamoDB Local, and the backfill CLI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from models.user import attribute_list_to_dict
from scripts.membership import write_groups
from scripts.stack_info import ROOT, StackInfo
from scripts.user_pool import (
    ADMIN_GROUP,
    TENANT_ADMIN_GROUP,
    attribute_list,
    cognito_names,
    create_user,
    sign_in,
)

PASSWORD = "Local-Passw0rd!"  # noqa: S105 - users of a throwaway local pool
HTTP_TIMEOUT_S = 30.0
# Write -> stream -> userEvents -> bus -> the consumer: ~1 s warm; a cold userEvents or userChanges
# (serverless-offline starts their Python on first use) adds seconds.
EVENT_TIMEOUT_S = 30.0
EVENT_POLL_S = 0.05


@dataclass(frozen=True)
class ReceivedEvent:
    """The example consumer's replica item for one event, and how long after the write it arrived."""

    item: dict[str, Any]
    lag_s: float


def token_claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (for display: the stack's authorizer does the checking)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


@dataclass
class Scenario:
    info: StackInfo
    connections: int = 10  # per client: raise it to share one Scenario across that many threads

    def __post_init__(self) -> None:
        self.cognito = self.info.client("cognito-idp", self.connections)
        self.ddb = self.info.client("dynamodb", self.connections)
        self.lambdas = self.info.client("lambda")
        self.http = requests.Session()
        self.http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=self.connections))

    # --- Cognito (cognito-local) ---------------------------------------------------------------

    def sign_up(self, username: str, **attributes: str) -> str:
        """SignUp + ConfirmSignUp (cognito-local fires PostConfirmation); returns the sub."""
        sub = self.register(username, **attributes)
        self.confirm(username)
        return sub

    def register(self, username: str, **attributes: str) -> str:
        """SignUp alone: an unconfirmed user (no trigger fires yet); returns the sub."""
        response = self.cognito.sign_up(
            ClientId=self.info.client_id,
            Username=username,
            Password=PASSWORD,
            UserAttributes=attribute_list(cognito_names(**attributes)),
        )
        return str(response["UserSub"])

    def sub_of(self, username: str) -> str:
        """The sub cognito-local holds for `username` (AdminGetUser)."""
        user = self.cognito.admin_get_user(UserPoolId=self.info.user_pool_id, Username=username)
        return str(attribute_list_to_dict(user["UserAttributes"])["sub"])

    def confirm(self, username: str) -> None:
        # cognito-local accepts its last sent code; AdminConfirmSignUp is the code-free path.
        self.cognito.admin_confirm_sign_up(UserPoolId=self.info.user_pool_id, Username=username)

    def admin_create(self, username: str, **attributes: str) -> str:
        """AdminCreateUser with a permanent password: no PostConfirmation fires. Returns the sub."""
        return create_user(
            self.cognito, self.info.user_pool_id, username, cognito_names(**attributes), password=PASSWORD
        )

    def make_admin(self, username: str, group: str = ADMIN_GROUP) -> None:
        self.cognito.admin_add_user_to_group(
            UserPoolId=self.info.user_pool_id, Username=username, GroupName=group
        )

    def make_tenant_admin(self, username: str) -> None:
        self.make_admin(username, TENANT_ADMIN_GROUP)

    def remove_from_group(self, username: str, group: str = ADMIN_GROUP) -> None:
        self.cognito.admin_remove_user_from_group(
            UserPoolId=self.info.user_pool_id, Username=username, GroupName=group
        )

    def sign_in(self, username: str) -> str:
        """USER_PASSWORD_AUTH (cognito-local fires PostAuthentication); returns the access token."""
        return sign_in(self.cognito, self.info.client_id, username, PASSWORD)

    def update_attributes(self, username: str, **attributes: str) -> None:
        self.cognito.admin_update_user_attributes(
            UserPoolId=self.info.user_pool_id,
            Username=username,
            UserAttributes=attribute_list(cognito_names(**attributes)),
        )

    def delete_user(self, username: str) -> None:
        self.cognito.admin_delete_user(UserPoolId=self.info.user_pool_id, Username=username)

    def disable_user(self, username: str) -> None:
        self.cognito.admin_disable_user(UserPoolId=self.info.user_pool_id, Username=username)

    def profile_via_get_user(self, token: str) -> dict[str, Any]:
        """The `GET /me` body built from a Cognito GetUser call (the baseline the mirror replaces)."""
        user = self.cognito.get_user(AccessToken=token)
        attributes = attribute_list_to_dict(user["UserAttributes"])
        return {"sub": attributes.get("sub"), "username": user["Username"], "attributes": attributes}

    # --- HTTP API (serverless-offline) ----------------------------------------------------------

    def get(
        self,
        path: str,
        token: str | None,
        base_url: str | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        """GET on the mirror's HTTP API, or on `base_url` (e.g. the consumer's, `info.consumer_url`)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"{base_url or self.info.http_url}{path}"
        return self.http.get(url, headers=headers, params=params, timeout=HTTP_TIMEOUT_S)

    # --- DynamoDB Local -------------------------------------------------------------------------

    def stored_row(self, sub: str) -> dict[str, Any] | None:
        """The mirror row of `sub`, as plain Python values (consistent read)."""
        return self._plain_item(self.info.table, sub)

    def _plain_item(self, table: str, sub: str) -> dict[str, Any] | None:
        from boto3.dynamodb.types import TypeDeserializer

        item = self.ddb.get_item(TableName=table, Key={"sub": {"S": sub}}, ConsistentRead=True)
        if "Item" not in item:
            return None
        deserializer = TypeDeserializer()
        return {name: deserializer.deserialize(value) for name, value in item["Item"].items()}

    def replica_row(self, sub: str) -> dict[str, Any] | None:
        """The example consumer's replica item of `sub` (what its userChanges function kept)."""
        return self._plain_item(self.info.replica_table, sub)

    def wait_for_event(
        self, sub: str, version: int, written_at: float, timeout: float = EVENT_TIMEOUT_S
    ) -> ReceivedEvent | None:
        """The consumer's item once it holds `version` of `sub` (bounded wait), or None.

        `written_at`: `time.time()` when the mirror's write had returned; the lag runs from there to
        the consumer's own clock reading (`received_at_ms`), same machine.
        """
        deadline = time.monotonic() + timeout
        while True:
            item = self.replica_row(sub)
            if item is not None and int(item["version"]) >= version:
                return ReceivedEvent(item, int(item["received_at_ms"]) / 1000 - written_at)
            if time.monotonic() > deadline:
                return None
            time.sleep(EVENT_POLL_S)

    def write_groups(self, sub: str, groups: list[str]) -> bool:
        """The row's groups observed now, written straight to the table (`write_groups`)."""
        return write_groups(self.ddb, self.info.table, sub, groups, observed_at=time.time_ns() // 1000)

    def drop_row(self, sub: str) -> None:
        """Remove `sub`'s row: stands in for a write the mirror missed (a trigger that timed out)."""
        self.ddb.delete_item(TableName=self.info.table, Key={"sub": {"S": sub}})

    # --- attribute_sync through the Lambda API (standing in for EventBridge -> SQS) -------------

    def deliver_cloudtrail(
        self, event_name: str, *, username: str, sub: str, group: str | None = None
    ) -> dict[str, Any]:
        """Invoke attributeSync with an SQS batch holding one EventBridge CloudTrail event (`group`:
        the groupName of a group call such as AdminRemoveUserFromGroup)."""
        event = cloudtrail_event(event_name, self.info, username=username, sub=sub, group=group)
        payload = sqs_batch(event)
        response = self.lambdas.invoke(
            FunctionName=self.info.function_name("attributeSync"),
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise RuntimeError(f"attributeSync failed: {body[:300]!r}")
        answer: dict[str, Any] = json.loads(body or b"null") or {}
        return answer

    # --- the backfill CLI -----------------------------------------------------------------------

    def backfill(self, *extra: str) -> subprocess.CompletedProcess[str]:
        """`python -m functions.backfill --user-pool-id ID --table NAME --json [extra]` on this stack."""
        argv = [
            sys.executable,
            "-m",
            "functions.backfill",
            "--user-pool-id",
            self.info.user_pool_id,
            "--table",
            self.info.table,
            "--json",
            *extra,
        ]
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "MIRROR_", "JWT_"))
        }
        env.update(self.info.client_env())
        env["PYTHONPATH"] = str(ROOT)
        return subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
        )


def cloudtrail_event(
    event_name: str, info: StackInfo, *, username: str, sub: str, group: str | None = None
) -> dict[str, Any]:
    """An EventBridge "AWS API Call via CloudTrail" event for a Cognito admin call."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    request = {"userPoolId": info.user_pool_id, "username": username}
    if group is not None:
        request["groupName"] = group
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cognito-idp",
        "account": "000000000000",
        "time": now,
        "region": info.region,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {"type": "IAMUser", "accountId": "000000000000", "userName": "local-admin"},
            "eventTime": now,
            "eventSource": "cognito-idp.amazonaws.com",
            "eventName": event_name,
            "awsRegion": info.region,
            "sourceIPAddress": "127.0.0.1",
            "userAgent": "cognito-mirror-local-demo",
            "requestParameters": request,
            "responseElements": None,
            "additionalEventData": {"sub": sub},
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": "000000000000",
            "eventCategory": "Management",
        },
    }


def sqs_batch(*events: dict[str, Any]) -> dict[str, Any]:
    """The SQS event a Lambda event source mapping would deliver for these EventBridge events."""
    sent = str(int(time.time() * 1000))
    records = []
    for event in events:
        body = json.dumps(event)
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"local-{uuid.uuid4()}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": sent,
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": sent,
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:000000000000:cognito-mirror-local-sync",
                "awsRegion": "eu-west-1",
            }
        )
    return {"Records": records}
