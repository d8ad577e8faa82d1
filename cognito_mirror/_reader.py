"""MirrorReader: the caller's identity, then their row (one GetItem, cached), repaired on a miss.

Its parts: the repair answers (`_repair.py`), the directory's query (`directory.py`), DynamoDB
and Lambda clients and items (`_aws.py`), the cache (`_cache.py`), identity (`_identity.py`, `_jwt.py`),
who holds a group (`_rights.py`: the token ∩ the row).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from functools import cache
from typing import Any, Protocol

from cognito_mirror._aws import (
    answered_items,
    bounded_client,
    client_errors,
    dependency_error,
    dynamodb_client,
)
from cognito_mirror._cache import Answer, ProfileCache
from cognito_mirror._config import JwtConfig, ReaderSettings, token_uses
from cognito_mirror._errors import (
    AccessDeniedError,
    ConfigurationError,
    MirrorError,
    MirrorUnavailableError,
    UnauthenticatedError,
    UserDisabledError,
    UserNotFoundError,
)
from cognito_mirror._identity import Caller, authorizer_claims, bearer_token, caller_from_claims, raw_event
from cognito_mirror._repair import Repair, invoke_repair_function, repaired_profile
from cognito_mirror._rights import held_by, require_held
from cognito_mirror.directory import client_query_page, iter_rows, plan_query
from cognito_mirror.directory_layout import LAYOUT_SUB, layout_error, layout_of
from cognito_mirror.group_directory import group_rows
from cognito_mirror.record import (
    DEFAULT_INDEXED_ATTRIBUTES,
    MAX_INDEXED_ATTRIBUTES,
    Profile,
    is_tombstone,
    valid_sub,
)

log = logging.getLogger("cognito_mirror.reader")

# Loads for a privileged decision share a flight only with each other ("!" is never in a sub).
_FRESH_FLIGHT = "!"


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: Any, value: float) -> None: ...


class MirrorReader:
    """Reads the mirror for one service. Build it once per process (module level), reuse it."""

    def __init__(
        self,
        table_name: str,
        *,
        region: str | None = None,
        cache_ttl_seconds: float = 30.0,
        cache_max_entries: int = 10_000,
        not_found_ttl_seconds: float = 30.0,
        stale_if_error_seconds: float = 300.0,
        repair: str | Repair | None = None,
        repair_timeout_seconds: float = 3.0,
        dynamodb: Any = None,
        lambda_client: Any = None,
        metrics: MetricsSink | None = None,
        jwt: JwtConfig | None = None,
        accepted_token_use: Iterable[str] = ("access",),
        ddb_connect_timeout: float = 0.5,
        ddb_read_timeout: float = 1.0,
        ddb_max_retries: int = 1,
        indexed_attributes: Sequence[str] = DEFAULT_INDEXED_ATTRIBUTES,
        group_members_table: str | None = None,
    ) -> None:
        if not table_name:
            raise ConfigurationError("the mirror's table name is required")
        self.table_name, self.group_members_table = table_name, group_members_table
        self.region = region
        self.cache_ttl_seconds = cache_ttl_seconds
        self.not_found_ttl_seconds = not_found_ttl_seconds
        self.stale_if_error_seconds = stale_if_error_seconds
        self.repair = repair
        self.repair_timeout_seconds = repair_timeout_seconds
        self.jwt = jwt
        self.accepted_token_use = token_uses(accepted_token_use)
        self._ddb_bounds = (ddb_connect_timeout, ddb_read_timeout, ddb_max_retries)
        self._dynamodb = dynamodb
        self._lambda = lambda_client
        self._metrics = metrics
        self._verifier: Any = None
        self._lock = threading.Lock()
        self.cache = ProfileCache(cache_max_entries)
        if len(indexed_attributes) > MAX_INDEXED_ATTRIBUTES:
            raise ConfigurationError(f"at most {MAX_INDEXED_ATTRIBUTES} indexed attributes")
        # In the mirror's MIRROR_INDEXED_ATTRIBUTES order: attribute i lives in index directory-<i>.
        self.indexed_attributes = tuple(indexed_attributes)
        # The table's own layout (read once, at the first directory lookup); None: no record.
        self._layout: tuple[tuple[str, ...] | None] | None = None

    @classmethod
    def from_settings(cls, settings: ReaderSettings, **overrides: Any) -> MirrorReader:
        """Configured by parsed settings; `overrides` (a repair callable, clients, metrics) win."""
        options = {field.name: getattr(settings, field.name) for field in fields(settings)}
        del options["table_name"]
        options["repair"] = options.pop("repair_function")
        options.update(overrides)
        return cls(settings.table_name, **options)

    @classmethod
    def from_env(cls, **overrides: Any) -> MirrorReader:
        """Configured by the mirror's variables (MIRROR_TABLE, MIRROR_CACHE_TTL_SECONDS, JWT_*, ...)."""
        return cls.from_settings(ReaderSettings.from_env(), **overrides)

    # --- identity -------------------------------------------------------------------------------

    def get_caller(self, event: Any) -> Caller:
        """The verified caller of an HTTP API (v2) event, or UnauthenticatedError."""
        event = raw_event(event)
        claims = authorizer_claims(event)
        if claims is None:
            if self.jwt is None:
                raise UnauthenticatedError("no verified identity on this request")
            token = bearer_token(event)
            if token is None:
                raise UnauthenticatedError("missing bearer token")
            claims = self._token_verifier().verify(token)
        return caller_from_claims(claims, self.accepted_token_use, self._count_unparsable_groups)

    def _count_unparsable_groups(self) -> None:
        self._count("GroupsClaimUnparsable")

    def _token_verifier(self) -> Any:
        if self._verifier is None:
            with self._lock:
                if self._verifier is None:
                    from cognito_mirror._identity import token_verifier

                    assert self.jwt is not None
                    self._verifier = token_verifier(self.jwt)
        return self._verifier

    # --- profiles -------------------------------------------------------------------------------

    def get_caller_profile(self, event: Any) -> Profile:
        """The verified caller's profile; UserDisabledError when their user is disabled."""
        caller = self.get_caller(event)
        return _enabled(self._get(caller.sub, caller.username))

    def require_group(self, event: Any, group: str) -> Profile:
        """The caller's own live profile if they hold `group` (exact name) now: the token's group, then
        the own row read fresh (`_rights.py`), before the request is looked at; else AccessDeniedError
        or UserDisabledError (403). DynamoDB failing is 503: never a privilege on a stale copy."""
        return require_held(self.get_caller(event), group, self._own_profile, self._count)

    def caller_groups(self, event: Any) -> frozenset[str]:
        """The groups the caller holds now, by `require_group`'s rule and with its refusals; a token
        without groups gets the empty set, nothing read."""
        return held_by(self.get_caller(event), self._own_profile)

    def _own_profile(self, caller: Caller) -> Profile:
        try:
            own = self._get(caller.sub, caller.username, fresh=True)
        except UserNotFoundError as exc:
            raise AccessDeniedError("the caller's own user is deleted or unknown") from exc
        return _enabled(own)

    def get(self, sub: str) -> Profile:
        """Any user's profile by sub (admin lookups: a disabled user comes back with enabled=False)."""
        return self._get(sub, None)

    def _get(self, sub: str, username: str | None, *, fresh: bool = False) -> Profile:
        """`fresh`: read the row even when a profile is cached (a remembered "no such user" still
        answers, so an unknown caller costs one repair per not-found TTL), never serve it stale."""
        # The cache holds only valid subs (checked below, before any load).
        entry = self.cache.fresh(sub) if isinstance(sub, str) else None
        if entry is not None and not (fresh and entry.answer is not None):
            self._count("ProfileCacheHit")
            return _found(entry.answer)
        if not valid_sub(sub):
            raise UserNotFoundError("malformed sub")
        wait = (
            self._ddb_bounds[0]
            + self._ddb_bounds[1] * (1 + self._ddb_bounds[2])
            + self.repair_timeout_seconds
        )
        flight = _FRESH_FLIGHT + sub if fresh else sub
        return _found(
            self.cache.single_flight(
                flight, lambda: self._load(sub, username, stale_if_error=not fresh), wait + 1.0
            )
        )

    def _load(self, sub: str, username: str | None, *, stale_if_error: bool = True) -> Answer:
        try:
            row = self._read_row(sub)
        except MirrorUnavailableError:
            stale = self.cache.stale(sub, self.stale_if_error_seconds) if stale_if_error else None
            if stale is not None and stale.answer is None and not stale.final:
                stale = None  # an unknown user may have signed up since: never a stale 404
            log.error("mirror read failed (sub %s, served stale: %s)", sub, stale is not None)
            self._count("MirrorReadFailed")
            if stale is None:
                raise
            return stale.answer
        if row is not None:
            self._count("ProfileMirrorRead")
            if is_tombstone(row):
                # Tombstones are final: a deleted user stays deleted.
                self.cache.put(sub, None, self.cache_ttl_seconds, final=True)
                return None
            profile = Profile.from_item(row)
            self.cache.put(sub, profile, self.cache_ttl_seconds)
            return profile
        answer = self._repair(sub, username)
        self.cache.put(sub, answer, self.cache_ttl_seconds if answer else self.not_found_ttl_seconds)
        return answer

    def _read_row(self, sub: str) -> dict[str, Any] | None:
        """The user's raw item (DynamoDB's wire format), or None."""
        try:
            answer = self._ddb().get_item(TableName=self.table_name, Key={"sub": {"S": sub}})
        except client_errors() as exc:
            raise self._misconfigured(dependency_error(exc, "mirror read")) from exc
        items = answered_items("GetItem", answer)
        return dict(items[0]) if items else None

    def _repair(self, sub: str, username: str | None) -> Answer:
        if self.repair is None:
            log.info("mirror miss and no repair function: not found (sub %s)", sub)
            return None
        self._count("ProfileRepair")
        if callable(self.repair):
            profile = self.repair(sub, username)
        else:
            payload = {"sub": sub, "username": username}
            profile = repaired_profile(invoke_repair_function(self._lambda_client, self.repair, payload))
        if profile is not None and profile.sub != sub:
            raise MirrorUnavailableError("the repair answered another user")
        return profile

    # --- the user directory (GetItem/Query on the directory indexes only) ----------------------

    def find_by_email(self, address: str, *, include_unverified: bool = False) -> list[Profile]:
        """The live users whose verified e-mail is `address` (ASCII letters in any case): normally
        one, [] if none. `include_unverified`: also those who set the address without verifying it."""
        return list(self.iter_users("email", address, include_unverified=include_unverified))

    def iter_users(
        self, attribute: str, value: str, *, page_size: int = 500, include_unverified: bool = False
    ) -> Iterator[Profile]:
        """Every live user whose indexed `attribute` is `value` (normalised as the mirror stores it),
        read lazily page by page, in (shard, sub) order. Deleted users are never yielded; by e-mail,
        nor users whose address is not verified unless `include_unverified`. The indexes are
        eventually consistent: a change shows up within about a second."""
        query = plan_query(
            client_query_page(self._ddb, self.table_name),
            self.indexed_attributes,
            attribute,
            value,
            limit=page_size,
            max_limit=1000,
            limit_name="page_size",
            include_unverified=include_unverified,
            check_layout=self._check_layout,
        )
        try:
            yield from (Profile.from_row(row) for row in iter_rows(query))
        except ConfigurationError as exc:
            self._misconfigured(exc)
            raise

    def iter_group_members(self, group: str, *, page_size: int = 500) -> Iterator[Profile]:
        """Every live user whose mirrored row holds `group` (exact name), read lazily page by page in
        (shard, sub) order from the group-members table (MIRROR_GROUP_MEMBERS_TABLE; docs/DIRECTORY.md)."""
        rows = group_rows(self._ddb, self.table_name, self.group_members_table, group, page_size)
        return (Profile.from_row(row) for row in rows)

    def _check_layout(self, attribute: str, slot: int) -> None:
        """ConfigurationError when the table indexes `attribute` elsewhere than `slot` (or not at all)."""
        if self._layout is None:
            self._layout = (layout_of(self._read_row(LAYOUT_SUB)),)
        stored = self._layout[0]
        problem = None if stored is None else layout_error(stored, attribute, slot)
        if problem is not None:
            raise ConfigurationError(problem)

    # --- clients (created lazily, once per reader, with bounded timeouts) -----------------------

    def _ddb(self) -> Any:
        if self._dynamodb is None:
            connect, read, retries = self._ddb_bounds
            with self._lock:
                self._dynamodb = dynamodb_client(self.region, connect, read, 1 + retries)
        return self._dynamodb

    def _lambda_client(self) -> Any:
        if self._lambda is None:
            self._lambda = self._client("lambda", 0.5, self.repair_timeout_seconds, 1)
        return self._lambda

    def _client(self, service: str, connect: float, read: float, attempts: int) -> Any:
        with self._lock:
            return bounded_client(service, self.region, connect, read, attempts)

    def _misconfigured(self, error: MirrorError) -> MirrorError:
        """`error`, logged and counted (MirrorMisconfigured) when it is a deployment fault."""
        if isinstance(error, ConfigurationError):
            log.error("the mirror's table refused the reader: %s", error.detail)
            self._count("MirrorMisconfigured")
        return error

    def _count(self, name: str) -> None:
        if self._metrics is not None:
            self._metrics.add_metric(name=name, unit="Count", value=1)


def _found(answer: Answer) -> Profile:
    if answer is None:
        raise UserNotFoundError("user not found")
    return answer


def _enabled(own: Profile) -> Profile:
    """The caller's own profile, unless their user is disabled: a still-valid token reads nothing."""
    if not own.enabled:
        raise UserDisabledError("the caller's user is disabled")
    return own


@cache
def default_reader() -> MirrorReader:
    """The process's reader configured from the environment (built on first use;
    `default_reader.cache_clear()` forgets it)."""
    return MirrorReader.from_env()
