"""Typed settings, parsed once from the environment.

Region and endpoints are never hard-coded: they come from the standard AWS variables
(`AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, ...),
which botocore reads itself. The API's reader is built from these settings
(`Settings.reader_settings()`): the library parses only the read side's own variables (cache, token
kinds, `JWT_*`), never the table, region, DynamoDB bounds or indexes again. Parsing and the one
`ConfigurationError` are the library's (`cognito_mirror.config`): a bad value names its variable and
what it allows. Each entry point's own settings (functions/common/settings.py) build on these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict

from cognito_mirror import ConfigurationError as ConfigurationError  # the one; re-exported for callers
from cognito_mirror.config import ReaderSettings, env, env_choice, env_csv, env_float, env_int
from cognito_mirror.record import DEFAULT_INDEXED_ATTRIBUTES, MAX_INDEXED_ATTRIBUTES, VERIFICATION_FLAGS
from models.user import CUSTOM_PREFIX, is_allowed

# Each indexed attribute (at most MAX_INDEXED_ATTRIBUTES) is a GSI slot of the table (`dir0`..`dir2`,
# declared in serverless.yml) and one more index write for every change of a user.
# Standard attributes worth finding users by; flags, dates, addresses and URLs are not.
INDEXABLE_STANDARD_ATTRIBUTES = frozenset(
    {
        "email",
        "phone_number",
        "preferred_username",
        "name",
        "given_name",
        "family_name",
        "nickname",
        "locale",
        "zoneinfo",
    }
)
# Cognito's custom attribute names: 1 to 20 characters after "custom:".
_CUSTOM_NAME = re.compile(r"custom:[A-Za-z0-9_-]{1,20}")


# Cognito client bounds: (connect timeout s, read timeout s, attempts in all), per profile.
COGNITO_TIMEOUT_RANGE = (0.1, 30.0)
COGNITO_ATTEMPTS_RANGE = (1, 10)


@dataclass(frozen=True)
class ClientBounds:
    """How long a client (Cognito, DynamoDB) waits to connect and for an answer, and how many attempts
    it makes in all."""

    connect_timeout: float
    read_timeout: float
    max_attempts: int


# Interactive: read-through inside an API request (a hung Cognito costs a caller ~1.5 s, then 503).
INTERACTIVE_COGNITO = ClientBounds(connect_timeout=0.5, read_timeout=1.0, max_attempts=1)
# Batch: sync, reconcile, backfill (their callers retry too; a slow answer beats a failed record).
BATCH_COGNITO = ClientBounds(connect_timeout=1.0, read_timeout=3.0, max_attempts=3)


class TableAccess(TypedDict):
    """The table and how to read it: what the library's reader and the stack's table share."""

    table_name: str
    region: str
    ddb_connect_timeout: float
    ddb_read_timeout: float
    ddb_max_retries: int
    indexed_attributes: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    table_name: str
    region: str
    user_pool_id: str | None
    # None means the default allowlist: every standard attribute and every custom:* one.
    mirror_attributes: frozenset[str] | None
    admin_group: str
    tombstone_ttl_days: int
    # Bounds for DynamoDB calls (LAMBDA_DYNAMODB, BULK_DYNAMODB below).
    ddb_connect_timeout: float
    ddb_read_timeout: float
    ddb_max_retries: int
    trigger_budget_seconds: float
    # User change events (functions/user_events.py): the bus they go to, and how much they carry.
    event_bus: str | None = None
    event_payload: str = "full"
    # Attributes the user directory can find users by, in slot order (`dir0`, `dir1`, ...).
    indexed_attributes: tuple[str, ...] = DEFAULT_INDEXED_ATTRIBUTES
    # GET /users: members of this group list their own tenant's users, the tenant being the value
    # of `tenant_attribute` on their own mirrored row.
    tenant_admin_group: str = "tenant-admin"
    tenant_attribute: str = "custom:tenant"
    # Signs GET /users cursors (an explicit key); else the stack's secret (its ARN), read once per
    # container; neither: a random key per container (docs/DIRECTORY.md).
    cursor_key: bytes | None = None
    cursor_key_secret: str | None = None
    # Cognito clients (functions/common/cognito.py): read-through in a request, and batch work.
    cognito_interactive: ClientBounds = INTERACTIVE_COGNITO
    cognito_batch: ClientBounds = BATCH_COGNITO
    # The engine's state table (models/state.py): the scheduled reconcile's progress.
    state_table_name: str | None = None
    # The group-members table (models/group_members.py): the projection, a group's listing, and the
    # sync's lookup of a deleted group's members.
    group_members_table_name: str | None = None
    # The AWS profile the clients' botocore session uses (an admin CLI's --aws-profile; None:
    # botocore's own chain), and whether that chain may ask the EC2 instance metadata service.
    aws_profile: str | None = None
    instance_metadata: bool = True

    def table_access(self) -> TableAccess:
        """The table, its region, the DynamoDB clients' bounds and the directory's indexes, by the
        names both of the table's users take: the library's reader (`reader_settings`) and the stack's
        data-access object (`models.table.TableConfig.from_settings`)."""
        return {
            "table_name": self.table_name,
            "region": self.region,
            "ddb_connect_timeout": self.ddb_connect_timeout,
            "ddb_read_timeout": self.ddb_read_timeout,
            "ddb_max_retries": self.ddb_max_retries,
            "indexed_attributes": self.indexed_attributes,
        }

    def reader_settings(self) -> ReaderSettings:
        """The API's reader's settings: `table_access`, the group-members table, and the read side's
        own variables, parsed by the library (once per reader built)."""
        return ReaderSettings.from_env(
            **self.table_access(), group_members_table=self.group_members_table_name
        )


def _indexed_attributes(mirrored: frozenset[str] | None) -> tuple[str, ...]:
    """`MIRROR_INDEXED_ATTRIBUTES`: known, mirrored, distinct names, at most a handful ("none": no index)."""
    raw = env("MIRROR_INDEXED_ATTRIBUTES")
    if raw is not None and raw.lower() == "none":
        return ()
    names = env_csv("MIRROR_INDEXED_ATTRIBUTES")
    if not names:  # the default indexes what the allowlist mirrors of it; a chosen set must be mirrored
        names = tuple(
            attribute for attribute in DEFAULT_INDEXED_ATTRIBUTES if is_allowed(attribute, mirrored)
        )
        return _verifiable(names, mirrored)
    name = "MIRROR_INDEXED_ATTRIBUTES"
    if len(names) > MAX_INDEXED_ATTRIBUTES:
        raise ConfigurationError(
            f"{name} names at most {MAX_INDEXED_ATTRIBUTES} attributes, got {len(names)}"
        )
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{name} names an attribute twice")
    for attribute in names:
        known = attribute in INDEXABLE_STANDARD_ATTRIBUTES or (
            attribute.startswith(CUSTOM_PREFIX) and _CUSTOM_NAME.fullmatch(attribute)
        )
        if not known:
            raise ConfigurationError(
                f"{name}: {attribute[:64]!r} cannot be indexed (one of "
                f"{', '.join(sorted(INDEXABLE_STANDARD_ATTRIBUTES))} or custom:<name>)"
            )
        if not is_allowed(attribute, mirrored):
            raise ConfigurationError(f"{name}: {attribute!r} is not mirrored (see MIRROR_ATTRIBUTES)")
    return _verifiable(names, mirrored)


def _verifiable(indexed: tuple[str, ...], mirrored: frozenset[str] | None) -> tuple[str, ...]:
    """Lookups by e-mail return verified addresses only: the flag must be mirrored, else none would."""
    for attribute, flag in VERIFICATION_FLAGS.items():
        if attribute in indexed and not is_allowed(flag, mirrored):
            raise ConfigurationError(
                f"MIRROR_INDEXED_ATTRIBUTES indexes {attribute} but MIRROR_ATTRIBUTES does not mirror "
                f"{flag}: add {flag} (lookups return verified addresses only), or leave {attribute} unindexed"
            )
    return indexed


# Cognito waits 5 s for a trigger: a budget past 4.5 s would leave no time to hand the event back.
MAX_TRIGGER_BUDGET_SECONDS = 4.5


# DynamoDB clients' default bounds (`MIRROR_DDB_CONNECT_TIMEOUT`, `_READ_TIMEOUT`, `_MAX_RETRIES` win).
# Lambda: triggers must return far below Cognito's 5 s limit.
LAMBDA_DYNAMODB = ClientBounds(connect_timeout=0.5, read_timeout=1.0, max_attempts=2)
# Admin CLIs' bulk jobs can wait longer for DynamoDB than a trigger.
BULK_DYNAMODB = ClientBounds(connect_timeout=3.0, read_timeout=10.0, max_attempts=5)


@dataclass(frozen=True)
class Overrides:
    """What an admin CLI's arguments give; each value set here wins over its environment variable."""

    table: str | None = None
    region: str | None = None
    user_pool_id: str | None = None
    aws_profile: str | None = None
    instance_metadata: bool = True
    dynamodb: ClientBounds = LAMBDA_DYNAMODB


def load_settings(given: Overrides | None = None) -> Settings:
    """The settings from the environment, and from `given` (an admin CLI's arguments) first."""
    given = given or Overrides()
    table = given.table or env("MIRROR_TABLE")
    if table is None:
        raise ConfigurationError("MIRROR_TABLE is not set: name the mirror's DynamoDB table")
    region = given.region or env("AWS_REGION") or env("AWS_DEFAULT_REGION")
    if region is None:
        raise ConfigurationError("AWS_REGION (or AWS_DEFAULT_REGION) is not set")
    allow = env_csv("MIRROR_ATTRIBUTES")
    ddb = given.dynamodb
    return Settings(
        table_name=table,
        region=region,
        user_pool_id=given.user_pool_id or env("USER_POOL_ID"),
        mirror_attributes=frozenset(allow) if allow else None,
        admin_group=env("MIRROR_ADMIN_GROUP") or "admin",
        tombstone_ttl_days=int(env_float("MIRROR_TOMBSTONE_TTL_DAYS", 30)),
        ddb_connect_timeout=env_float("MIRROR_DDB_CONNECT_TIMEOUT", ddb.connect_timeout),
        ddb_read_timeout=env_float("MIRROR_DDB_READ_TIMEOUT", ddb.read_timeout),
        ddb_max_retries=int(env_float("MIRROR_DDB_MAX_RETRIES", ddb.max_attempts - 1)),
        trigger_budget_seconds=env_float(
            "MIRROR_TRIGGER_BUDGET_SECONDS", 2.0, minimum=0.1, maximum=MAX_TRIGGER_BUDGET_SECONDS
        ),
        event_bus=env("MIRROR_EVENT_BUS"),
        event_payload=_event_payload(),
        indexed_attributes=_indexed_attributes(frozenset(allow) if allow else None),
        tenant_admin_group=env("MIRROR_TENANT_ADMIN_GROUP") or "tenant-admin",
        tenant_attribute=env("MIRROR_TENANT_ATTRIBUTE") or "custom:tenant",
        cursor_key=_cursor_key(),
        cursor_key_secret=env("MIRROR_CURSOR_KEY_SECRET"),
        cognito_interactive=_cognito_bounds("MIRROR_COGNITO", INTERACTIVE_COGNITO),
        cognito_batch=_cognito_bounds("MIRROR_COGNITO_BATCH", BATCH_COGNITO),
        state_table_name=env("MIRROR_STATE_TABLE"),
        group_members_table_name=env("MIRROR_GROUP_MEMBERS_TABLE"),
        aws_profile=given.aws_profile,
        instance_metadata=given.instance_metadata,
    )


def _cognito_bounds(prefix: str, default: ClientBounds) -> ClientBounds:
    """`<prefix>_CONNECT_TIMEOUT`, `<prefix>_READ_TIMEOUT` (0.1-30 s), `<prefix>_MAX_ATTEMPTS` (1-10)."""
    low, high = COGNITO_TIMEOUT_RANGE
    fewest, most = COGNITO_ATTEMPTS_RANGE
    return ClientBounds(
        connect_timeout=env_float(
            f"{prefix}_CONNECT_TIMEOUT", default.connect_timeout, minimum=low, maximum=high
        ),
        read_timeout=env_float(f"{prefix}_READ_TIMEOUT", default.read_timeout, minimum=low, maximum=high),
        max_attempts=env_int(f"{prefix}_MAX_ATTEMPTS", default.max_attempts, minimum=fewest, maximum=most),
    )


MIN_CURSOR_KEY_CHARS = 32


def _cursor_key() -> bytes | None:
    raw = env("MIRROR_CURSOR_KEY")
    if raw is None:
        return None
    if len(raw) < MIN_CURSOR_KEY_CHARS:
        raise ConfigurationError(
            f"MIRROR_CURSOR_KEY must be at least {MIN_CURSOR_KEY_CHARS} characters "
            "(e.g. openssl rand -hex 32)"
        )
    return raw.encode()


# --- User change events -------------------------------------------------------------------------
EVENT_PAYLOADS = ("full", "names")


def _event_payload() -> str:
    """`full` (profile and previous values in each event) or `names` (what changed, no values)."""
    return env_choice("MIRROR_EVENT_PAYLOAD", "full", EVENT_PAYLOADS)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The Lambda process's settings (parsed on first use; `get_settings.cache_clear()` in tests).

    The admin CLIs never use it: each builds its own from its arguments (`load_settings(Overrides(...))`)
    and passes it down."""
    return load_settings()
