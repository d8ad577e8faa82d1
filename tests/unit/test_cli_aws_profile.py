"""The admin CLIs name the AWS profile `--aws-profile`; `--profile` stays an alias for operators' scripts."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from functions import directory
from functions.backfill import cli as backfill_cli

REQUIRED_ARGUMENTS: dict[str, tuple[Callable[[], argparse.ArgumentParser], list[str]]] = {
    "backfill": (backfill_cli.build_parser, ["--user-pool-id", "eu-west-1_abc", "--table", "users"]),
    "directory": (directory.build_parser, ["--find-email", "ann@example.com", "--table", "users"]),
}


@pytest.mark.parametrize("command", sorted(REQUIRED_ARGUMENTS))
@pytest.mark.parametrize("spelling", ["--aws-profile", "--profile"])
def test_both_spellings_name_the_aws_profile(command: str, spelling: str) -> None:
    # Given a CLI's parser and its required arguments
    build_parser, required = REQUIRED_ARGUMENTS[command]
    # When the AWS profile is given under either spelling
    args = build_parser().parse_args([*required, spelling, "ops-admin"])
    # Then the CLI reads the same profile
    assert args.aws_profile == "ops-admin"


@pytest.mark.parametrize("command", sorted(REQUIRED_ARGUMENTS))
def test_help_names_aws_profile_and_its_alias(command: str) -> None:
    # Given a CLI's parser / When its help is rendered
    build_parser, _ = REQUIRED_ARGUMENTS[command]
    text = build_parser().format_help()
    # Then the new name and the alias are both documented
    assert "--aws-profile AWS_PROFILE, --profile AWS_PROFILE" in text
