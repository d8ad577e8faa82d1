"""What a client of the running local stack needs: its names, endpoints, ids and boto3 clients.

`StackInfo` is what `LocalStack.start()` returns; the demo, the scenarios, the integration tests and
the benches reach the stack through it. The constants name the services as `serverless.yml` and
examples/consumer/serverless.yml do, so a local name is the deployed one with the local stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.ports import Ports

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local"
SERVICE = "cognito-mirror"
CONSUMER_DIR = ROOT / "examples" / "consumer"
CONSUMER_SERVICE = "mirror-consumer"
# The consumer's function subscribed to the user events (examples/consumer/serverless.yml).
EVENTS_FUNCTION_KEY = "userChanges"
# The mirror's function a reader invokes on a miss (serverless.yml `repairUser`).
REPAIR_FUNCTION_KEY = "repairUser"
REGION = "eu-west-1"
DEFAULT_STAGE = "local"
# DynamoDB Local and cognito-local accept any credentials; botocore needs some.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class _Loopback:
    """A `StackInfo` attribute: the URL of one of its ports (every local service listens on 127.0.0.1)."""

    def __init__(self, port: str) -> None:
        self._port = port

    def __get__(self, stack: StackInfo, owner: object = None) -> str:
        return f"http://127.0.0.1:{getattr(stack.ports, self._port)}"


class _Deployed:
    """A `StackInfo` attribute: a resource's name as its service's serverless.yml gives it on the stage."""

    def __init__(self, service: str, resource: str) -> None:
        self._service, self._resource = service, resource

    def __get__(self, stack: StackInfo, owner: object = None) -> str:
        return f"{self._service}-{stack.stage}-{self._resource}"


@dataclass(frozen=True)
class StackInfo:
    """What a client of the running stack needs: endpoints, ids, names."""

    ports: Ports
    stage: str
    region: str
    table: str
    user_pool_id: str
    client_id: str
    state_dir: Path

    dynamodb_endpoint = _Loopback("dynamodb")
    cognito_endpoint = _Loopback("cognito")
    http_url = _Loopback("http")
    lambda_endpoint = _Loopback("lambda_")
    # The example consumer's HTTP API (`GET /hello`) and its Lambda endpoint.
    consumer_url = _Loopback("consumer_http")
    consumer_lambda_endpoint = _Loopback("consumer_lambda")
    # moto's server: EventBridge and SQS.
    events_endpoint = _Loopback("events")
    # The mirror's user change event bus (serverless.yml UserEventBus).
    event_bus = _Deployed(SERVICE, "user-events")
    # Who is in which group (serverless.yml GroupMembersTable), kept by groupMembers.
    group_members_table = _Deployed(SERVICE, "group-members")
    # The example consumer's replica of the users, fed by the events (examples/consumer).
    replica_table = _Deployed(CONSUMER_SERVICE, "user-replica")

    @property
    def streams_checkpoint(self) -> Path:
        """Where the DynamoDB Streams plugin keeps its position (removed with each new table)."""
        return self.state_dir / "ddb-streams-checkpoint.json"

    @property
    def issuer(self) -> str:
        return f"{self.cognito_endpoint}/{self.user_pool_id}"

    def function_name(self, key: str) -> str:
        """The Lambda name serverless-offline serves for a `serverless.yml` function key."""
        return f"{SERVICE}-{self.stage}-{key}"

    def client_env(self) -> dict[str, str]:
        """Environment for a process (CLI, Lambda) that talks to this stack."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": self.cognito_endpoint,
            "MIRROR_TABLE": self.table,
            "MIRROR_GROUP_MEMBERS_TABLE": self.group_members_table,
            "USER_POOL_ID": self.user_pool_id,
        }

    def client(self, service: str, connections: int = 10, endpoint: str | None = None) -> Any:
        """A boto3 client for `dynamodb`, `cognito-idp` or `lambda` on this stack.

        `connections`: its HTTP pool size (botocore's default 10), for callers sharing it across threads.
        """
        import boto3
        from botocore.config import Config

        endpoints = {
            "dynamodb": self.dynamodb_endpoint,
            "cognito-idp": self.cognito_endpoint,
            "lambda": self.lambda_endpoint,
            "events": self.events_endpoint,
            "sqs": self.events_endpoint,
        }
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoint or endpoints[service],
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            # An invoke is not retried: a hung handler fails once, after the read timeout.
            config=Config(
                retries={"mode": "standard", "total_max_attempts": 1 if service == "lambda" else 2},
                read_timeout=30,
                max_pool_connections=connections,
            ),
        )
