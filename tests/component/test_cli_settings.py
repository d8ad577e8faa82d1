"""The admin CLIs build their settings from their arguments: one process may run them on several
tables, one after the other, and the process environment is left as it was."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from functions import directory
from functions.backfill import cli as backfill
from scripts.table import create_table

OTHER_TABLE = "mirror-other-test"


def mirrored_subs(table: str) -> set[str]:
    items = boto3.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["sub"]["S"] for item in items}


def fill(cognito: Any, table: str) -> int:
    return backfill.main(
        ["--user-pool-id", cognito.id, "--table", table, "--write-mode", "put", "--segments", "1", "--json"]
    )


def test_two_backfills_in_one_process_write_to_their_own_tables_and_leave_the_environment(
    cognito: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two mirror tables and a pool whose second user arrives between two runs
    create_table(boto3.client("dynamodb"), OTHER_TABLE)
    environment = dict(os.environ)
    first = cognito.create_user("ann", email="ann@example.com")
    # When the command runs on the first table, then (after the second user signs up) on the other
    first_code = fill(cognito, "mirror-test")
    second = cognito.create_user("bob", email="bob@example.com")
    second_code = fill(cognito, OTHER_TABLE)
    # Then each run wrote to the table it was given
    assert (first_code, second_code) == (0, 0)
    assert mirrored_subs("mirror-test") == {first}
    assert mirrored_subs(OTHER_TABLE) == {first, second}
    # And the process environment is exactly as it was
    assert dict(os.environ) == environment
    capsys.readouterr()


def test_two_directory_lookups_in_one_process_read_their_own_tables_and_leave_the_environment(
    cognito: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a user mirrored in the other table only
    create_table(boto3.client("dynamodb"), OTHER_TABLE)
    sub = cognito.create_user("cy", email="cy@example.com", email_verified="true")
    assert fill(cognito, OTHER_TABLE) == 0
    capsys.readouterr()
    environment = dict(os.environ)
    # When an operator looks the address up in each table, in one process
    in_other = directory.main(["--table", OTHER_TABLE, "--find-email", "cy@example.com", "--json"])
    found = json.loads(capsys.readouterr().out)
    in_first = directory.main(["--table", "mirror-test", "--find-email", "cy@example.com", "--json"])
    # Then the other table has the user, the first one none
    assert (in_other, in_first) == (directory.EXIT_FOUND, directory.EXIT_NONE)
    assert [user["sub"] for user in found["users"]] == [sub]
    # And the process environment is exactly as it was
    assert dict(os.environ) == environment
