"""Shared fixtures (a pytest plugin loaded from tests/conftest.py): moto for AWS, no network.

Nothing here is autouse: each offline test folder turns them on with a one-line autouse fixture in
its conftest (tests/unit, tests/reliability), so integration tests keep their real sockets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws
from pytest_socket import disable_socket, enable_socket, socket_allow_hosts

# Bind the Powertools logger to this process's stdout now, before a test swaps sys.stdout (capsys):
# a logger first built inside such a test would keep writing to its closed stream.
import functions.common.observability  # noqa: F401 - imported for that side effect
from scripts.table import create_table

TABLE = "mirror-test"


def reset_process_state() -> None:
    """Forget every per-process singleton (settings, bound model, caches, clients)."""
    from cognito_mirror._reader import reset_default_reader
    from functions.common import cognito
    from functions.common.reader import mirror_reader
    from models import mirror_table
    from models.settings import get_settings

    get_settings.cache_clear()
    mirror_table._bound_to = None
    mirror_table.MirrorRecord._connection = None
    mirror_reader.cache_clear()
    reset_default_reader()
    cognito.reset_clients()


@pytest.fixture
def no_network(request: pytest.FixtureRequest) -> Iterator[None]:
    """No sockets, except 127.0.0.1 for tests marked `loopback`."""
    if request.node.get_closest_marker("loopback"):
        socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    else:
        disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture
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


# Hypothesis budgets: `fast` for `make test`, `stress` for `make test-stress` (HYPOTHESIS_PROFILE).
# Examples reuse the function's moto table, so every example writes to subs of its own.
_HYPOTHESIS_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile("fast", max_examples=60, **_HYPOTHESIS_COMMON)
settings.register_profile("stress", max_examples=1000, **_HYPOTHESIS_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
