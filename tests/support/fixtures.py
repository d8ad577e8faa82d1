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
from scripts.table import GROUP_MEMBERS_TABLE, STATE_TABLE, create_table
from scripts.user_pool import cognito_names, create_pool, create_user

TABLE = "mirror-test"
STATE = "mirror-state-test"
GROUP_MEMBERS = "mirror-group-members-test"


def reset_process_state() -> None:
    """Forget every per-process singleton (settings, tables, caches, clients, keys): each is a
    `functools.cache` builder, and this is the one place that clears them."""
    from cognito_mirror import default_reader
    from functions.common import cognito, event_publisher
    from functions.common.cursor import container_key
    from functions.common.reader import mirror_reader
    from models import aws, directory_layout
    from models.group_members import members_table_for_settings
    from models.settings import get_settings
    from models.state import state_table_for_settings
    from models.table import table_for_settings

    members_table_for_settings.cache_clear()
    get_settings.cache_clear()
    table_for_settings.cache_clear()
    state_table_for_settings.cache_clear()
    mirror_reader.cache_clear()
    default_reader.cache_clear()
    cognito._process_client.cache_clear()
    container_key.cache_clear()
    directory_layout._stored_layout.cache_clear()
    aws._session.cache_clear()
    # A test's stand-in client is a cached builder too (tests/support/user_events.py).
    event_publisher.events_client.cache_clear()


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
    """moto for every AWS call; the mirror and state tables built from serverless.yml."""
    for name in [n for n in os.environ if n.startswith("JWT_") or n.startswith("MIRROR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MIRROR_TABLE", TABLE)
    monkeypatch.setenv("MIRROR_STATE_TABLE", STATE)
    monkeypatch.setenv("MIRROR_GROUP_MEMBERS_TABLE", GROUP_MEMBERS)
    # The most Cognito allows: tests that seed users through a trigger are about what is written, and
    # moto on a busy machine can take seconds for a first write. Budget tests bound the trigger through
    # the Lambda's remaining time or the client timeouts, which still hold.
    monkeypatch.setenv("MIRROR_TRIGGER_BUDGET_SECONDS", "4.5")
    reset_process_state()
    with mock_aws():
        create_table(boto3.client("dynamodb"), TABLE)
        create_table(boto3.client("dynamodb"), STATE, resource=STATE_TABLE)
        create_table(boto3.client("dynamodb"), GROUP_MEMBERS, resource=GROUP_MEMBERS_TABLE)
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
    pool_id, _ = create_pool(client, "mirror-test")
    monkeypatch.setenv("USER_POOL_ID", pool_id)
    reset_process_state()

    class Pool:
        id = pool_id
        idp = client

        def create_user(self, username: str, **attributes: str) -> str:
            return create_user(client, self.id, username, cognito_names(**attributes))

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


@pytest.fixture
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backfill/reconcile engine's Cognito calls not paced at the quotas (`--max-rps`,
    ListGroups' 5/s): for tests of what a run writes and counts, not of its pace (the pacing is
    tests/unit/test_backfill_scheduling.py's and test_backfill.py's rate-limiter tests)."""
    from functions.common.backfill import engine, membership
    from functions.common.backfill.rate_limit import RateLimiter

    def fast(rate: float) -> RateLimiter:
        return RateLimiter(10_000.0)

    monkeypatch.setattr(engine, "RateLimiter", fast)
    monkeypatch.setattr(membership, "RateLimiter", fast)


@pytest.fixture
def engine_lags_kept() -> Iterator[None]:
    """A run's freshness values go where its caller says (the CLI's summary, the reconcile
    Lambda's EMF); a test that drives the Engine directly keeps them, as the CLI does, so none is
    left waiting for another test's flush."""
    from functions.common.observability import mirror_freshness

    with mirror_freshness.kept():
        yield
