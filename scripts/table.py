"""Create the mirror's tables from their `serverless.yml` resources, so tests, the local stack and the
deployment share one definition.

    python -m scripts.table --name TABLE           # the users table, against AWS_ENDPOINT_URL_DYNAMODB
    python -m scripts.table --name TABLE --state   # the reconcile state table
    python -m scripts.table --name TABLE --group-members  # the group-members table
"""

from __future__ import annotations

import argparse
import copy
import functools
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
_CREATE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")


# libyaml's loader when PyYAML has it (about ten times faster on serverless.yml), else the Python one.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML loader that keeps CloudFormation tags (!Sub, !GetAtt, ...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node)


_CfnLoader.add_multi_constructor("!", _any_tag)


def load_serverless(path: Path = ROOT / "serverless.yml") -> dict[str, Any]:
    """The file's YAML, CloudFormation's short tags kept as plain values (a fresh copy per call)."""
    return copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, mtime_ns: int) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data


MIRROR_TABLE = (ROOT / "serverless.yml", "MirrorTable")
STATE_TABLE = (ROOT / "serverless.yml", "ReconcileStateTable")
GROUP_MEMBERS_TABLE = (ROOT / "serverless.yml", "GroupMembersTable")


def table_properties(resource: tuple[Path, str] = MIRROR_TABLE) -> dict[str, Any]:
    """The Properties of a table resource: (serverless.yml path, logical id), the mirror's by default.

    Parsed once per process and file version (the YAML parse costs ~0.2 s of CPU; tests create the
    table for every test); each caller gets its own copy."""
    path, logical_id = resource
    props = _parsed(path, path.stat().st_mtime_ns)["resources"]["Resources"][logical_id]["Properties"]
    return copy.deepcopy(props)


def create_table_kwargs(
    name: str, *, stream: bool = False, resource: tuple[Path, str] = MIRROR_TABLE
) -> dict[str, Any]:
    """CreateTable arguments for `name`; with `stream`, the deployed table's stream too.

    Without it the table has no stream: on DynamoDB Local a stream slows every write (the backfill's
    25-statement PartiQL batches went past a 1 s read timeout), and only the local stack reads it.
    """
    props = table_properties(resource)
    kwargs = {key: props[key] for key in _CREATE_KEYS if key in props}
    kwargs["TableName"] = name
    if stream:
        # CloudFormation implies StreamEnabled; CreateTable requires it.
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return kwargs


def create_table(
    client: Any, name: str, *, stream: bool = False, resource: tuple[Path, str] = MIRROR_TABLE
) -> None:
    """Create `name` with the deployed definition (idempotent), TTL included; `stream`: see above."""
    existing = client.list_tables().get("TableNames", [])
    if name not in existing:
        client.create_table(**create_table_kwargs(name, stream=stream, resource=resource))
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    ttl = table_properties(resource).get("TimeToLiveSpecification")
    if ttl:
        try:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        except client.exceptions.ClientError as exc:  # already enabled
            if "already enabled" not in str(exc).lower():
                raise


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="table name")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--state", action="store_true", help="the reconcile state table, not the users table")
    which.add_argument("--group-members", action="store_true", help="the group-members table")
    args = parser.parse_args(argv)
    resource = STATE_TABLE if args.state else GROUP_MEMBERS_TABLE if args.group_members else MIRROR_TABLE
    create_table(boto3.client("dynamodb"), args.name, resource=resource)
    print(f"table {args.name} ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
