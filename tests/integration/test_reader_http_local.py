"""The reader's botocore-free DynamoDB client on DynamoDB Local: inside Lambda (its environment set
here) the reader answers as it does through botocore, errors included, without importing botocore;
and the example consumer's environment on the local stack takes that path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from cognito_mirror import ConfigurationError, MirrorReader, MirrorUnavailableError, UserNotFoundError
from cognito_mirror._aws import dynamodb_client
from cognito_mirror._dynamodb_http import DynamoDBHttpClient
from models.table import mirror_table
from models.user import UserSnapshot
from scripts.dynamodb_local import ROOT
from scripts.library_venv import library_venv
from scripts.offline import consumer_env
from scripts.scenario import Scenario
from tests.support.fixtures import TABLE
from tests.support.loopback import free_port

REGION = "eu-west-1"
Readers = Callable[..., tuple[MirrorReader, MirrorReader]]


@pytest.fixture
def readers(local_table: None, monkeypatch: pytest.MonkeyPatch) -> Readers:
    """A reader on each path, from the same arguments: (botocore-free, botocore)."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "consumer-itest-hello")

    def build(table: str = TABLE) -> tuple[MirrorReader, MirrorReader]:
        clients = []
        for choice in ("auto", "botocore"):
            monkeypatch.setenv("MIRROR_READER_HTTP", choice)
            clients.append(dynamodb_client(REGION, 0.5, 10.0, 2))
        monkeypatch.delenv("MIRROR_READER_HTTP")
        assert isinstance(clients[0], DynamoDBHttpClient)
        assert not isinstance(clients[1], DynamoDBHttpClient)
        http, boto = (MirrorReader(table, region=REGION, dynamodb=client) for client in clients)
        return http, boto

    return build


def store(sub: str, **attributes: str) -> None:
    mirror_table().put_snapshot(
        UserSnapshot(sub, f"user-{sub}", attributes, "CONFIRMED", True, 1_764_000_000_000_000, "test")
    )


def test_a_row_a_miss_a_tombstone_and_a_directory_query_read_the_same_on_both_paths(readers: Readers) -> None:
    # Given a user, a deleted user, and two users of one tenant
    store(
        "ada", email="Ada@Example.com", email_verified="true", given_name="Ada", **{"custom:tenant": "acme"}
    )
    store("bob", email="bob@example.com", **{"custom:tenant": "acme"})
    store("gone", email="gone@example.com")
    mirror_table().put_tombstone("gone", observed_at=1_864_000_000_000_000, source="test")
    http, boto = readers()
    # When each reads them
    # Then the same profiles, the same 404s, the same directory answers
    assert http.get("ada") == boto.get("ada")
    assert http.get("ada").attributes["given_name"] == "Ada"
    for sub in ("nobody", "gone"):
        for reader in (http, boto):
            with pytest.raises(UserNotFoundError):
                reader.get(sub)
    assert http.find_by_email("ada@EXAMPLE.com") == boto.find_by_email("ada@EXAMPLE.com") != []
    tenant = [p.sub for p in http.iter_users("custom:tenant", "acme", page_size=1)]
    assert tenant == [p.sub for p in boto.iter_users("custom:tenant", "acme", page_size=1)]
    assert sorted(tenant) == ["ada", "bob"]


def test_a_raw_get_item_answers_what_botocore_answers_binary_values_included(readers: Readers) -> None:
    # Given an item with every kind of value, binary ones included
    item: dict[str, Any] = {
        "sub": {"S": "raw"},
        "n": {"N": "12.50"},
        "b": {"B": b"\x00\xffbytes"},
        "bs": {"BS": [b"a", b"\x01"]},
        "m": {"M": {"B": {"S": "a map key named B"}, "l": {"L": [{"B": b"x"}, {"NULL": True}]}}},
        "ss": {"SS": ["x", "y"]},
    }
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)
    http = dynamodb_client(REGION, 0.5, 10.0, 2)
    assert isinstance(http, DynamoDBHttpClient)
    # When both read it
    ours = http.get_item(TableName=TABLE, Key={"sub": {"S": "raw"}})
    theirs = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"sub": {"S": "raw"}})
    # Then the same answer (as DynamoDB normalised it: 12.5, a set in its order)
    assert ours["Item"] == theirs["Item"]
    assert ours["Item"]["b"] == item["b"] and ours["Item"]["m"] == item["m"]
    assert ours["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_wrong_table_is_the_same_misconfiguration_on_both_paths(readers: Readers) -> None:
    # Given readers of a table that does not exist
    details = []
    for reader in readers("no-such-table"):
        # When they read / Then a deployment fault (500, no retry can fix it), for the same reason
        with pytest.raises(ConfigurationError) as caught:
            reader.get("ada")
        details.append(caught.value.detail)
    assert details == ["mirror read refused: ResourceNotFoundException"] * 2


def test_a_refused_connection_is_a_503_within_the_timeouts(
    readers: Readers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint where nothing listens
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    details = []
    for reader in readers():
        # When the reader reads
        started = time.monotonic()
        with pytest.raises(MirrorUnavailableError) as caught:
            reader.get("ada")
        # Then a 503 with the same reason, well within connect + read for two attempts
        assert time.monotonic() - started < 2 * (0.5 + 10.0)
        details.append(caught.value.detail)
    assert details == ["mirror read failed: EndpointConnectionError"] * 2


def read_in_a_fresh_process(python: str, env: dict[str, str], cwd: Path, sub: str) -> list[Any]:
    """[username, email, botocore SDK modules loaded] after `MirrorReader.from_env().get(sub)` in a
    new process. (Powertools imports botocore's bare package, 1 ms, for its user agent: not the SDK.)"""
    script = (
        "import json, sys\n"
        "from cognito_mirror import MirrorReader\n"
        f"p = MirrorReader.from_env().get({sub!r})\n"
        "sdk = sorted(m for m in sys.modules if m.startswith(('boto3', 'botocore.', 'urllib3')))\n"
        "print(json.dumps([p.username, p.attributes['email'], sdk]))\n"
    )
    done = subprocess.run(  # noqa: S603 - a Python of ours, a fixed script
        [python, "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    answer: list[Any] = json.loads(done.stdout)
    return answer


@pytest.mark.usefixtures("local_table")
def test_inside_lambda_a_read_never_imports_botocore() -> None:
    # Given a user, and a fresh process with Lambda's environment
    store("ada", email="ada@example.com")
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "consumer-itest-hello", "MIRROR_TABLE": TABLE}
    env.pop("MIRROR_READER_HTTP", None)
    # When it reads the user through the library
    answer = read_in_a_fresh_process(sys.executable, env, ROOT, "ada")
    # Then the user, read without botocore's SDK (nor boto3, nor urllib3) in the process
    assert answer == ["user-ada", "ada@example.com", []]


def test_the_example_consumers_environment_reads_through_the_botocore_free_client(
    scenario: Scenario, tmp_path: Path
) -> None:
    # Given a mirrored user, and the environment serverless-offline gives the consumer's handler
    # (its own variables, plus the AWS_* ones Lambda sets) on the consumer's venv (the built wheel)
    name = f"hal-{uuid.uuid4().hex[:8]}"
    sub = scenario.sign_up(name, email=f"{name}@example.com")
    env = consumer_env(scenario.info, library_venv())
    env.update({"AWS_LAMBDA_FUNCTION_NAME": "consumer-itest-hello", "MIRROR_TABLE": scenario.info.table})
    # When the library reads the user there
    answer = read_in_a_fresh_process(str(library_venv() / "bin" / "python3"), env, tmp_path, sub)
    # Then it reads the row without botocore's SDK
    assert answer == [name, f"{name}@example.com", []]
