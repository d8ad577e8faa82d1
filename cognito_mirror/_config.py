"""The reader's configuration, explicit or from the environment (the mirror's own variable names).

`ReaderSettings` is everything a reader is configured by, parsed once. The environment parsers here
(`env`, `env_float`, `env_int`, `env_choice`, `env_csv`) are the only ones of the project: the
mirror's own settings (models/settings.py) use them too, through the public `cognito_mirror.config`,
so every bad value is one `ConfigurationError` whose message names the variable and what it allows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cognito_mirror._errors import ConfigurationError
from cognito_mirror.record import DEFAULT_INDEXED_ATTRIBUTES

TOKEN_USES = frozenset({"access", "id"})
MAX_JWT_LEEWAY_SECONDS = 60.0


@dataclass(frozen=True)
class JwtConfig:
    """Self-verification of Bearer tokens (services without an API Gateway JWT authorizer)."""

    issuer: str
    jwks_url: str
    audience: frozenset[str]
    leeway_seconds: float = 5.0
    jwks_lifespan_seconds: float = 300.0
    timeout_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not (self.issuer and self.jwks_url and self.audience):
            raise ConfigurationError("JWT issuer, JWKS URL and audience must be set together")
        if not 0 <= self.leeway_seconds <= MAX_JWT_LEEWAY_SECONDS:
            raise ConfigurationError(f"JWT leeway must be between 0 and {MAX_JWT_LEEWAY_SECONDS:g} s")


def token_uses(values: Iterable[str], name: str = "accepted token_use") -> frozenset[str]:
    accepted = frozenset(values) or frozenset({"access"})
    if not accepted <= TOKEN_USES:
        raise ConfigurationError(
            f"{name} must name only {', '.join(sorted(TOKEN_USES))}, got {', '.join(sorted(accepted))}"
        )
    return accepted


def env(name: str) -> str | None:
    """The variable's value, stripped; None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def env_float(name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None) -> float:
    """A number within [minimum, maximum] (default: not negative, no upper bound)."""
    raw = env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from exc
    if math.isnan(value):
        raise ConfigurationError(f"{name} must be a number, got {raw!r}")
    if value < minimum:
        bound = "must not be negative" if minimum == 0 else f"must be at least {minimum:g}"
        raise ConfigurationError(f"{name} {bound}, got {raw!r}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name} must be at most {maximum:g}, got {raw!r}")
    return value


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    """A whole number within [minimum, maximum]."""
    raw = env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise ConfigurationError(
            f"{name} must be a whole number from {minimum} to {maximum}, got {raw[:64]!r}"
        )
    return value


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    """One of `choices` (case-insensitive, answered in lower case)."""
    allowed = tuple(choices)
    raw = env(name) or default
    if raw.lower() not in allowed:
        raise ConfigurationError(f"{name} must be one of {', '.join(allowed)}, got {raw[:64]!r}")
    return raw.lower()


def env_csv(name: str) -> tuple[str, ...]:
    """Comma-separated items, stripped, blanks dropped."""
    raw = env(name)
    return tuple(item.strip() for item in raw.split(",") if item.strip()) if raw else ()


def reader_http_from_env() -> str:
    """MIRROR_READER_HTTP: `auto` (inside Lambda, read DynamoDB without botocore when possible) or
    `botocore`."""
    return env_choice("MIRROR_READER_HTTP", "auto", ("auto", "botocore"))


def jwt_config_from_env() -> JwtConfig | None:
    issuer, jwks, audience = env("JWT_ISSUER"), env("JWT_JWKS_URL"), env_csv("JWT_AUDIENCE")
    # Checked even while unused: a bad value is found at deploy time, not when JWT_* is added.
    leeway = env_float("JWT_LEEWAY_SECONDS", 5.0)
    if leeway > MAX_JWT_LEEWAY_SECONDS:
        raise ConfigurationError(
            f"JWT_LEEWAY_SECONDS must be at most {MAX_JWT_LEEWAY_SECONDS:g}, got {leeway:g}"
        )
    if not any((issuer, jwks, audience)):
        return None
    if not (issuer and jwks and audience):
        raise ConfigurationError("JWT_ISSUER, JWT_JWKS_URL and JWT_AUDIENCE must be set together")
    return JwtConfig(issuer=issuer, jwks_url=jwks, audience=frozenset(audience), leeway_seconds=leeway)


@dataclass(frozen=True)
class ReaderSettings:
    """Everything a MirrorReader is configured by, parsed once (`MirrorReader.from_settings`)."""

    table_name: str
    region: str | None = None
    cache_ttl_seconds: float = 30.0
    cache_max_entries: int = 10_000
    not_found_ttl_seconds: float = 30.0
    stale_if_error_seconds: float = 300.0
    repair_function: str | None = None
    repair_timeout_seconds: float = 3.0
    jwt: JwtConfig | None = None
    accepted_token_use: frozenset[str] = frozenset({"access"})
    ddb_connect_timeout: float = 0.5
    ddb_read_timeout: float = 1.0
    ddb_max_retries: int = 1
    indexed_attributes: tuple[str, ...] = DEFAULT_INDEXED_ATTRIBUTES
    # The group-members table (listing a group's members); None: no group listing.
    group_members_table: str | None = None

    @classmethod
    def from_env(cls, **parsed: Any) -> ReaderSettings:
        """From the mirror's variables (MIRROR_TABLE, MIRROR_CACHE_TTL_SECONDS, JWT_*, ...); a value
        in `parsed` (a field's name: the caller's own settings already hold it) is not read again."""
        parsers: dict[str, Callable[[], Any]] = {
            "table_name": _table_from_env,
            "region": lambda: env("AWS_REGION") or env("AWS_DEFAULT_REGION"),
            "cache_ttl_seconds": lambda: env_float("MIRROR_CACHE_TTL_SECONDS", 30.0),
            "cache_max_entries": lambda: int(env_float("MIRROR_CACHE_MAX_ENTRIES", 10_000)),
            "not_found_ttl_seconds": lambda: env_float("MIRROR_NOT_FOUND_TTL_SECONDS", 30.0),
            "stale_if_error_seconds": lambda: env_float("MIRROR_STALE_IF_ERROR_SECONDS", 300.0),
            "repair_function": lambda: env("MIRROR_REPAIR_FUNCTION"),
            "repair_timeout_seconds": lambda: env_float("MIRROR_REPAIR_TIMEOUT_SECONDS", 3.0),
            "jwt": jwt_config_from_env,
            "accepted_token_use": lambda: token_uses(
                env_csv("MIRROR_ACCEPTED_TOKEN_USE"), "MIRROR_ACCEPTED_TOKEN_USE"
            ),
            "ddb_connect_timeout": lambda: env_float("MIRROR_DDB_CONNECT_TIMEOUT", 0.5),
            "ddb_read_timeout": lambda: env_float("MIRROR_DDB_READ_TIMEOUT", 1.0),
            "ddb_max_retries": lambda: int(env_float("MIRROR_DDB_MAX_RETRIES", 1)),
            "indexed_attributes": _indexed_from_env,
            "group_members_table": lambda: env("MIRROR_GROUP_MEMBERS_TABLE"),
        }
        reader_http_from_env()  # checked now; read again when the reader's client is built
        return cls(**{name: parsed[name] if name in parsed else parse() for name, parse in parsers.items()})


def _table_from_env() -> str:
    table = env("MIRROR_TABLE")
    if table is None:
        raise ConfigurationError("MIRROR_TABLE is not set: name the mirror's DynamoDB table")
    return table


def _indexed_from_env() -> tuple[str, ...]:
    """MIRROR_INDEXED_ATTRIBUTES as the mirror reads it (its own deployment validates the names)."""
    raw = env("MIRROR_INDEXED_ATTRIBUTES")
    if raw is not None and raw.lower() == "none":
        return ()
    return env_csv("MIRROR_INDEXED_ATTRIBUTES") or DEFAULT_INDEXED_ATTRIBUTES
