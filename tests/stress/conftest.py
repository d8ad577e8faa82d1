"""Long-running reliability parts: run by `make test-stress` (MIRROR_STRESS=1), skipped by `make test`.

`make test-stress` also re-runs tests/reliability with the `stress` hypothesis profile (more
examples). Hooks for the parts that land after the merge (see RELIABILITY.md, "Left to add"):
- the load test on the local stack (>= 200 parallel sign-ups/sign-ins through cognito-local);
- backfill killed with SIGKILL at random points and resumed, Cognito throttling during backfill:
  done in test_backfill_kill.py; sync partial-batch failures: tests/reliability/test_sync_faults.py.
Add them here as `test_*.py`; they inherit the skip and the fixtures below.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from scripts.dynamodb_local import DynamoDBLocal, start_dynamodb_local
from scripts.table import create_table
from tests.support.fixtures import reset_process_state
from tests.support.loopback import free_port

STRESS = os.environ.get("MIRROR_STRESS") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    skip = pytest.mark.skip(reason="stress part: run with `make test-stress` (MIRROR_STRESS=1)")
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.stress)
            if not STRESS:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """One in-memory DynamoDB Local for the stress session (MIRROR_STRESS_DYNAMODB_PORT, else a free
    port). It listens on every interface of that port: it has no bind-address option."""
    port = int(os.environ.get("MIRROR_STRESS_DYNAMODB_PORT") or free_port())
    service = start_dynamodb_local(port)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def local_mirror(dynamodb_local: DynamoDBLocal, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The mirror table on DynamoDB Local, fresh for each test; yields its name."""
    name = f"stress-{os.urandom(4).hex()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint)
    monkeypatch.setenv("MIRROR_TABLE", name)
    reset_process_state()
    client = boto3.client("dynamodb", endpoint_url=dynamodb_local.endpoint)
    create_table(client, name)
    yield name
    client.delete_table(TableName=name)
    reset_process_state()
