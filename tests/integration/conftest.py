"""Integration tests: real local services. One local stack (DynamoDB Local, cognito-local,
serverless-offline) per session, started by the first test that asks for it; one bare DynamoDB Local
per session for the PartiQL tests (tests/support/dynamodb_local.py).

The stack runs on ports the kernel picks, with its state in a temporary folder, so `make test`
works while a `make dev` holds the default ports.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scripts.dynamodb_local import LocalServiceError
from scripts.ports import Ports
from scripts.scenario import Scenario
from scripts.stack import LocalStack
from scripts.stack_info import StackInfo
from tests.support.dynamodb_local import local_endpoint, local_table

HERE = Path(__file__).resolve().parent
__all__ = ["local_endpoint", "local_table"]  # fixtures, exposed to the tests here


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    local = LocalStack(
        ports=Ports.free(), stage="itest", state_dir=tmp_path_factory.mktemp("stack"), say=print
    )
    try:
        info = local.start()
    except LocalServiceError as exc:
        pytest.fail(f"the local stack did not start: {exc}", pytrace=False)
    print(f"local stack ready in {local.ready_seconds:.1f} s on {info.ports}")
    yield info
    local.stop()


@pytest.fixture(scope="session")
def scenario(stack: StackInfo) -> Scenario:
    return Scenario(stack)


@pytest.fixture
def unique() -> Callable[[str], str]:
    """A username no other test uses: tests share one pool."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"
