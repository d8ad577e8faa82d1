"""An admin CLI's settings: its arguments first, the environment for the rest, the environment untouched."""

from __future__ import annotations

import os

import pytest

from functions.backfill.cli import build_parser
from functions.common.admin_cli import admin_settings
from models.settings import BULK_DYNAMODB


def arguments(*extra: str) -> list[str]:
    return ["--user-pool-id", "eu-west-1_abc", "--table", "users-ops", *extra]


def test_the_arguments_win_over_the_environment_which_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment naming another table, region and profile
    monkeypatch.setenv("MIRROR_TABLE", "users-env")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("USER_POOL_ID", "us-east-1_env")
    environment = dict(os.environ)
    args = build_parser().parse_args(arguments("--region", "eu-west-2", "--aws-profile", "ops-admin"))
    # When the CLI builds its settings
    settings = admin_settings(args, user_pool_id=args.user_pool_id)
    # Then they hold the arguments, and the environment is as it was
    assert (settings.table_name, settings.region) == ("users-ops", "eu-west-2")
    assert (settings.user_pool_id, settings.aws_profile) == ("eu-west-1_abc", "ops-admin")
    assert dict(os.environ) == environment


def test_what_the_arguments_do_not_give_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a region and an allowlist in the environment only
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    monkeypatch.setenv("MIRROR_ATTRIBUTES", "email,email_verified,custom:tenant")
    # When the CLI builds its settings without --region
    settings = admin_settings(build_parser().parse_args(arguments()))
    # Then the environment gave them
    assert settings.region == "ap-southeast-2"
    assert settings.mirror_attributes == frozenset({"email", "email_verified", "custom:tenant"})
    assert settings.aws_profile is None


@pytest.mark.parametrize(("value", "asks_metadata"), [(None, False), ("true", False), ("false", True)])
def test_the_instance_metadata_service_is_skipped_unless_the_environment_allows_it(
    monkeypatch: pytest.MonkeyPatch, value: str | None, asks_metadata: bool
) -> None:
    # Given AWS_EC2_METADATA_DISABLED unset, true or false
    if value is None:
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    else:
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", value)
    # When the CLI builds its settings
    settings = admin_settings(build_parser().parse_args(arguments()))
    # Then its credential chain asks the metadata service only when the variable says false
    assert settings.instance_metadata is asks_metadata


def test_a_bulk_job_waits_longer_for_dynamodb_unless_a_bound_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the read timeout set in the environment, the other bounds not
    for name in ("MIRROR_DDB_CONNECT_TIMEOUT", "MIRROR_DDB_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MIRROR_DDB_READ_TIMEOUT", "7")
    # When the backfill builds its settings with the bulk defaults
    settings = admin_settings(build_parser().parse_args(arguments()), dynamodb=BULK_DYNAMODB)
    # Then the set bound wins and the others are a bulk job's
    assert (settings.ddb_connect_timeout, settings.ddb_read_timeout, settings.ddb_max_retries) == (
        3.0,
        7.0,
        4,
    )
