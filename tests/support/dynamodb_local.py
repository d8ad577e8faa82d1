"""DynamoDB Local for the tests moto cannot serve (PartiQL with parameters): fixtures and row builders.

One in-memory engine per session on MIRROR_TEST_DDB_PORT, else a port the kernel picks; each test
gets the mirror table fresh. The integration conftest exposes the fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from models.user import UserSnapshot
from scripts.dynamodb_local import start_dynamodb_local
from scripts.table import create_table
from tests.support.fixtures import TABLE, reset_process_state
from tests.support.loopback import free_port


@pytest.fixture(scope="session")
def local_endpoint() -> Iterator[str]:
    service = start_dynamodb_local(int(os.environ.get("MIRROR_TEST_DDB_PORT") or free_port()))
    try:
        yield service.endpoint
    finally:
        service.stop()


@pytest.fixture
def local_table(local_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The mirror table on DynamoDB Local, created for the test and deleted after it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", local_endpoint)
    monkeypatch.setenv("MIRROR_DDB_READ_TIMEOUT", "10")  # a bulk job's bound: a cold engine is slow
    client = boto3.client("dynamodb", endpoint_url=local_endpoint)
    create_table(client, TABLE)
    reset_process_state()
    yield
    client.delete_table(TableName=TABLE)
    reset_process_state()


def snap(sub: str, observed_at: int, email: str = "backfill@example.com") -> UserSnapshot:
    """A backfill snapshot of `sub` observed at `observed_at`."""
    return UserSnapshot(sub, f"user-{sub}", {"email": email}, "CONFIRMED", True, observed_at, "backfill")
