"""`python -m functions.directory`: find users in the mirror by e-mail or another indexed attribute,
or list a group's members.

    python -m functions.directory --find-email alice@example.com
    python -m functions.directory --find custom:tenant=acme --limit 1000 --json
    python -m functions.directory --group admin

Reads the mirror's directory indexes and group-members table only (never Cognito). Prints one user
a line (sub, username, status, enabled), or with --json one object {"users": [...], "complete": bool}.
Exit codes: 0 users found, 1 nothing matches, 2 usage or unusable value, 4 cannot run
(table, credentials, configuration).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from functions.common.admin_cli import (
    EXIT_CANNOT_RUN,
    EXIT_USAGE,
    add_aws_arguments,
    admin_settings,
    require_table,
)

if TYPE_CHECKING:
    from models.user import UserSnapshot

EXIT_FOUND = 0
EXIT_NONE = 1
MAX_LIMIT = 100_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m functions.directory",
        description="Find users in the Cognito mirror by an indexed attribute (MIRROR_INDEXED_ATTRIBUTES).",
        epilog="Exit codes: 0 found, 1 nothing matches, 2 usage or unusable value, 4 cannot run.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--find-email", metavar="ADDRESS", help="users with this verified e-mail (any case)")
    what.add_argument("--find", metavar="ATTRIBUTE=VALUE", help="users whose indexed ATTRIBUTE is VALUE")
    what.add_argument(
        "--group", metavar="NAME", help="the members of this Cognito group (MIRROR_GROUP_MEMBERS_TABLE)"
    )
    parser.add_argument(
        "--include-unverified",
        action="store_true",
        help="by e-mail: also users who set the address without verifying it (default: verified only)",
    )
    parser.add_argument("--limit", type=int, default=100, help=f"most users shown, 1-{MAX_LIMIT} (100)")
    add_aws_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return parser


def _query(args: argparse.Namespace, parser: argparse.ArgumentParser) -> tuple[str, str]:
    if args.find_email is not None:
        return "email", args.find_email
    if args.group is not None:
        return "", args.group
    attribute, sep, value = args.find.partition("=")
    if not sep or not attribute.strip():
        parser.error("--find takes ATTRIBUTE=VALUE, e.g. custom:tenant=acme")
    return attribute.strip(), value


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Check --limit and --table."""
    if not 1 <= args.limit <= MAX_LIMIT:
        parser.error(f"--limit must be in 1..{MAX_LIMIT}, got {args.limit}")
    require_table(parser, args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    attribute, value = _query(args, parser)
    _check(args, parser)

    from models.directory import Continuation, query_group_members, query_users
    from models.errors import DirectoryQueryError, TableUnavailableError
    from models.group_members import members_table_for_settings
    from models.settings import ConfigurationError
    from models.table import table_for_settings

    users: list[UserSnapshot] = []
    after: Continuation | None = None
    try:
        settings = admin_settings(args)
        table = table_for_settings(settings)
        members = members_table_for_settings(settings) if args.group is not None else None
        while True:
            want = min(500, args.limit - len(users) + 1)
            page = (
                query_group_members(value, limit=want, after=after, table=table, members=members)
                if members is not None
                else query_users(
                    attribute,
                    value,
                    limit=want,
                    after=after,
                    table=table,
                    include_unverified=args.include_unverified,
                )
            )
            users += page.users
            after = page.next
            if after is None or len(users) > args.limit:
                break
    except DirectoryQueryError as exc:
        print(f"directory: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigurationError, TableUnavailableError) as exc:
        print(f"directory: error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    complete = len(users) <= args.limit
    users = users[: args.limit]
    _print(users, complete, args)
    return EXIT_FOUND if users else EXIT_NONE


def _print(users: list[UserSnapshot], complete: bool, args: argparse.Namespace) -> None:
    if args.json:
        rows = [{k: v for k, v in asdict(u).items() if k not in ("source", "dropped")} for u in users]
        print(json.dumps({"users": rows, "complete": complete}, sort_keys=True))
        return
    for found in users:
        state = "enabled" if found.enabled else "disabled"
        print(f"{found.sub}\t{found.username}\t{found.status}\t{state}")
    if not complete:
        print(f"more users match than --limit {args.limit}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
