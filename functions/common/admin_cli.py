"""What every admin CLI takes to reach the mirror (its table, the AWS region and profile), the
settings it builds from them, and the exit codes all of them share.

A CLI never writes the process environment: its arguments, and the environment for what they do not
give, become one `Settings` that the CLI passes down (tables, Cognito clients, the engine). The AWS
profile and region go to the botocore session that builds the clients (models/aws.py).
"""

from __future__ import annotations

import argparse
import os

from cognito_mirror.config import env
from models.settings import LAMBDA_DYNAMODB, ClientBounds, Overrides, Settings, load_settings

# A usage error (argparse's own exit status) and a run that cannot start (table, credentials,
# configuration); each CLI documents its other codes.
EXIT_USAGE = 2
EXIT_CANNOT_RUN = 4


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


def require_table(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error (exit 2) unless `--table` or MIRROR_TABLE names the mirror's table."""
    if not args.table:
        parser.error("--table is required (or set MIRROR_TABLE)")


def admin_settings(
    args: argparse.Namespace, *, user_pool_id: str | None = None, dynamodb: ClientBounds = LAMBDA_DYNAMODB
) -> Settings:
    """The CLI's settings: `--table`, `--region`, `--aws-profile` (and `user_pool_id`) first, then the
    environment. Unless AWS_EC2_METADATA_DISABLED says otherwise, the credential chain skips the EC2
    instance metadata service (an admin's workstation has none). Raises ConfigurationError."""
    return load_settings(
        Overrides(
            table=args.table,
            region=args.region,
            user_pool_id=user_pool_id,
            aws_profile=args.aws_profile,
            instance_metadata=(env("AWS_EC2_METADATA_DISABLED") or "true").lower() != "true",
            dynamodb=dynamodb,
        )
    )
