"""Unit-test fixtures: moto for AWS, no network (loopback only for tests marked `loopback`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pytest_socket import disable_socket, enable_socket, socket_allow_hosts

from scripts.table import create_table

TABLE = "mirror-test"


def reset_process_state() -> None:
    """Forget every per-process singleton (settings, bound model, caches, clients)."""
    from functions.common import cognito, profiles
    from models import mirror_table
    from models.settings import get_settings

    get_settings.cache_clear()
    mirror_table._bound_to = None
    mirror_table.MirrorRecord._connection = None
    profiles._cache = None
    cognito.cognito_client.cache_clear()


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("loopback"):
        socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    else:
        disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call; the mirror table built from serverless.yml."""
    for name in [n for n in os.environ if n.startswith("JWT_") or n.startswith("MIRROR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MIRROR_TABLE", TABLE)
    reset_process_state()
    with mock_aws():
        create_table(boto3.client("dynamodb"), TABLE)
        yield
    reset_process_state()


@pytest.fixture
def ddb() -> Any:
    return boto3.client("dynamodb")


@pytest.fixture
def raw_item(ddb: Any) -> Callable[[str], dict[str, Any] | None]:
    """The stored row of `sub` as DynamoDB holds it (consistent read)."""

    def read(sub: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = ddb.get_item(
            TableName=TABLE, Key={"sub": {"S": sub}}, ConsistentRead=True
        ).get("Item")
        return item

    return read


@pytest.fixture
def cognito(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A moto user pool with custom attributes; USER_POOL_ID points at it."""
    client = boto3.client("cognito-idp")
    pool = client.create_user_pool(
        PoolName="mirror-test",
        Schema=[
            {"Name": "tenant", "AttributeDataType": "String", "Mutable": True},
            {"Name": "plan", "AttributeDataType": "String", "Mutable": True},
        ],
    )["UserPool"]
    monkeypatch.setenv("USER_POOL_ID", pool["Id"])
    reset_process_state()

    class Pool:
        id = pool["Id"]
        idp = client

        def create_user(self, username: str, **attributes: str) -> str:
            attrs = [{"Name": k.replace("__", ":"), "Value": v} for k, v in attributes.items()]
            user = client.admin_create_user(
                UserPoolId=self.id, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS"
            )["User"]
            return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")

    return Pool()


@pytest.fixture
def log_output(monkeypatch: pytest.MonkeyPatch) -> Callable[[], str]:
    """Everything the Powertools logger writes during the test (its JSON lines)."""
    import io

    from functions.common.observability import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return stream.getvalue
