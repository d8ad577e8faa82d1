"""The arguments every admin CLI takes to reach the mirror: its table, the AWS region and profile."""

from __future__ import annotations

import argparse
import os


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """`--table` (default MIRROR_TABLE), `--region`, and `--aws-profile` with its alias `--profile`."""
    parser.add_argument(
        "--table", default=os.environ.get("MIRROR_TABLE"), help="mirror table (env MIRROR_TABLE)"
    )
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)")
    parser.add_argument(
        "--aws-profile",
        "--profile",
        dest="aws_profile",
        help="AWS profile (default: AWS_PROFILE); --profile is an alias",
    )
