"""The reader's configuration, explicit or from the environment (the mirror's own variable names).

The environment parsers here (`env`, `env_float`, `env_int`, `env_choice`, `env_csv`) are the only
ones of the project: the mirror's own settings (models/settings.py) use them too, so every bad value
is one `ConfigurationError` whose message names the variable and what it allows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cognito_mirror._errors import ConfigurationError

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
