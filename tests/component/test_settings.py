"""Typed settings: a bad value is one ConfigurationError naming the variable and what it allows,
found when a handler is imported (cold start), and a trigger still returns its event unchanged."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.support.fixtures import reset_process_state
from tests.support.helpers import FakeLambdaContext, load_event

HANDLERS = [
    "api",
    "post_confirmation",
    "post_authentication",
    "attribute_sync",
    "reconcile",
    "repair_user",
    "user_events",
]


def cold_start(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    """Import `functions.<name>` afresh, as Lambda does in a new container."""
    monkeypatch.delitem(sys.modules, f"functions.{name}", raising=False)
    return importlib.import_module(f"functions.{name}")


def error_lines(output: str) -> list[dict[str, Any]]:
    return [
        record
        for record in (json.loads(line) for line in output.splitlines() if line.startswith("{"))
        if record.get("level") == "ERROR"
    ]


def the_one_error(output: str) -> str:
    """The reason of the one error line logged (and there is exactly one)."""
    errors = error_lines(output)
    assert len(errors) == 1, errors
    reason: str = errors[0]["error"]
    return reason


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MIRROR_RECONCILE_MARGIN_MS", "soon", "must be a whole number from 1000 to 900000"),
        ("MIRROR_RECONCILE_MARGIN_MS", "999", "must be a whole number from 1000"),
        ("MIRROR_RECONCILE_SEGMENTS", "8", "must be one of 1, 16, 256, got '8'"),
        ("MIRROR_RECONCILE_MAX_RPS", "fast", "must be a number, got 'fast'"),
        ("MIRROR_RECONCILE_MAX_RPS", "31", "must be at most 30"),
        ("MIRROR_RECONCILE_MAX_RPS", "0", "must be at least 0.1"),
        ("MIRROR_RECONCILE_WORKERS", "0", "must be a whole number from 1 to 64"),
        ("MIRROR_RECONCILE_WORKERS", "2.5", "must be a whole number from 1 to 64"),
        ("MIRROR_RECONCILE_WRITE_MODE", "batch", "must be one of partiql, put"),
        ("MIRROR_COGNITO_CONNECT_TIMEOUT", "0", "must be at least 0.1, got '0'"),
        ("MIRROR_COGNITO_READ_TIMEOUT", "nan", "must be a number"),
        ("MIRROR_COGNITO_BATCH_READ_TIMEOUT", "60", "must be at most 30"),
        ("MIRROR_COGNITO_MAX_ATTEMPTS", "11", "must be a whole number from 1 to 10"),
        ("MIRROR_EVENT_PAYLOAD", "all", "must be one of full, names, got 'all'"),
        ("MIRROR_TRIGGER_BUDGET_SECONDS", "5", "must be at most 4.5"),
    ],
)
def test_a_bad_value_is_the_one_configuration_error_naming_its_variable(
    name: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cognito_mirror
    from functions.common.settings import reconcile_settings

    # Given a pool and one setting (reconcile's own or the mirror's) malformed or out of its bounds
    monkeypatch.setenv("USER_POOL_ID", "eu-west-1_SETTINGS")
    monkeypatch.setenv(name, value)
    reset_process_state()
    # When reconcile's settings (which hold the mirror's) load
    # Then the library's one ConfigurationError names the variable and what it allows
    with pytest.raises(cognito_mirror.ConfigurationError, match=f"^{name} {message}"):
        reconcile_settings()


def test_reconcile_knobs_default_and_parse_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.common.backfill.options import WriteMode
    from functions.common.settings import reconcile_settings

    # Given a pool, default knobs, then every knob set within its bounds
    monkeypatch.setenv("USER_POOL_ID", "eu-west-1_SETTINGS")
    for name in ("MARGIN_MS", "SEGMENTS", "MAX_RPS", "WORKERS", "WRITE_MODE", "WORKDIR"):
        monkeypatch.delenv(f"MIRROR_RECONCILE_{name}", raising=False)
    reset_process_state()
    defaults = reconcile_settings()
    for name, value in {
        "MARGIN_MS": "30000",
        "SEGMENTS": "256",
        "MAX_RPS": "2.5",
        "WORKERS": "4",
        "WRITE_MODE": "PUT",
        "WORKDIR": "/var/tmp/mirror",
    }.items():
        monkeypatch.setenv(f"MIRROR_RECONCILE_{name}", value)
    # When they load / Then the defaults are today's and the values typed
    chosen = reconcile_settings()
    assert (defaults.margin_ms, defaults.segments, defaults.max_rps, defaults.workers) == (
        60_000,
        16,
        10.0,
        16,
    )
    assert (defaults.write_mode, defaults.workdir) == (WriteMode.PARTIQL, "/tmp")
    assert (chosen.margin_ms, chosen.segments, chosen.max_rps, chosen.workers) == (30_000, 256, 2.5, 4)
    assert (chosen.write_mode, chosen.workdir) == (WriteMode.PUT, "/var/tmp/mirror")


def test_cognito_clients_take_their_bounds_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.common.cognito import cognito_client

    # Given the batch profile's read timeout and attempts set, the interactive profile left alone
    monkeypatch.setenv("MIRROR_COGNITO_BATCH_READ_TIMEOUT", "7.5")
    monkeypatch.setenv("MIRROR_COGNITO_BATCH_MAX_ATTEMPTS", "5")
    reset_process_state()
    # When the clients are built
    batch, interactive = cognito_client(interactive=False), cognito_client(interactive=True)
    # Then the batch client has the chosen bounds and the interactive one today's defaults
    assert (batch.meta.config.connect_timeout, batch.meta.config.read_timeout) == (1.0, 7.5)
    assert batch.meta.config.retries["total_max_attempts"] == 5
    assert (interactive.meta.config.connect_timeout, interactive.meta.config.read_timeout) == (0.5, 1.0)
    assert interactive.meta.config.retries["total_max_attempts"] == 1


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_bad_setting_is_logged_in_one_line_at_cold_start(
    handler: str, monkeypatch: pytest.MonkeyPatch, log_output: Callable[[], str]
) -> None:
    # Given a malformed setting every entry point reads (and what each one requires)
    monkeypatch.setenv("USER_POOL_ID", "eu-west-1_SETTINGS")
    monkeypatch.setenv("MIRROR_EVENT_BUS", "mirror-events")
    monkeypatch.setenv("MIRROR_DDB_READ_TIMEOUT", "slow")
    reset_process_state()
    # When Lambda imports the handler in a new container
    module = cold_start(monkeypatch, handler)
    # Then the import succeeds and one error line names the variable and what it allows
    assert callable(module.handler)
    assert the_one_error(log_output()) == "MIRROR_DDB_READ_TIMEOUT must be a number, got 'slow'"


REQUIRED = {
    "attribute_sync": "USER_POOL_ID",
    "repair_user": "USER_POOL_ID",
    "reconcile": "USER_POOL_ID",
    "user_events": "MIRROR_EVENT_BUS",
}


@pytest.mark.parametrize(("handler", "variable"), REQUIRED.items())
def test_a_missing_required_setting_is_logged_at_cold_start(
    handler: str, variable: str, monkeypatch: pytest.MonkeyPatch, log_output: Callable[[], str]
) -> None:
    # Given an entry point's required variable unset
    monkeypatch.delenv(variable, raising=False)
    reset_process_state()
    # When Lambda imports the handler
    cold_start(monkeypatch, handler)
    # Then one error line says which variable is missing
    assert the_one_error(log_output()).startswith(f"{variable} is not set")


def test_well_configured_handlers_log_nothing_at_cold_start(
    monkeypatch: pytest.MonkeyPatch, log_output: Callable[[], str]
) -> None:
    # Given every entry point's variables set
    monkeypatch.setenv("USER_POOL_ID", "eu-west-1_SETTINGS")
    monkeypatch.setenv("MIRROR_EVENT_BUS", "mirror-events")
    reset_process_state()
    # When each handler is imported in a new container
    for handler in HANDLERS:
        cold_start(monkeypatch, handler)
    # Then no error is logged
    assert error_lines(log_output()) == []


@pytest.mark.parametrize("fixture", ["post_confirmation_confirm_signup", "post_authentication"])
def test_a_misconfigured_trigger_returns_the_event_unchanged(
    fixture: str, monkeypatch: pytest.MonkeyPatch, log_output: Callable[[], str], raw_item: Any
) -> None:
    # Given a trigger whose budget setting is malformed
    monkeypatch.setenv("MIRROR_TRIGGER_BUDGET_SECONDS", "two")
    reset_process_state()
    module = cold_start(monkeypatch, fixture.split("_confirm_signup")[0])
    event = load_event(fixture)
    # When Cognito invokes it
    answer = module.handler(load_event(fixture), FakeLambdaContext())
    # Then sign-in goes on: the event comes back unchanged, nothing is written, the reason is logged
    assert answer == event
    assert raw_item(event["request"]["userAttributes"]["sub"]) is None
    reasons = [record["error"] for record in error_lines(log_output())]
    assert reasons == ["MIRROR_TRIGGER_BUDGET_SECONDS must be a number, got 'two'"] * 2  # cold start, invoke


def test_a_misconfigured_reconcile_fails_the_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    from cognito_mirror import ConfigurationError

    # Given a scheduled reconcile with a malformed knob
    monkeypatch.setenv("USER_POOL_ID", "eu-west-1_SETTINGS")
    monkeypatch.setenv("MIRROR_RECONCILE_SEGMENTS", "many")
    reset_process_state()
    module = cold_start(monkeypatch, "reconcile")
    # When it runs / Then it fails before listing, naming the variable (the schedule retries it)
    with pytest.raises(ConfigurationError, match="MIRROR_RECONCILE_SEGMENTS must be one of 1, 16, 256"):
        module.handler({"source": "aws.events"}, FakeLambdaContext(remaining_ms=600_000))


class _CountingEnviron(dict[str, str]):
    """os.environ that counts each variable's reads."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.reads: dict[str, int] = {}

    def get(self, key: str, default: Any = None) -> Any:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().get(key, default)


def test_the_apis_reader_is_built_from_the_one_settings_object(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from functions.common.reader import mirror_reader
    from models.settings import get_settings

    # Given the mirror's variables, a chosen index set among them, and a fresh process
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", "email")
    environ = _CountingEnviron(dict(os.environ))
    monkeypatch.setattr(os, "environ", environ)
    reset_process_state()
    settings = get_settings()
    shared = ("MIRROR_TABLE", "MIRROR_INDEXED_ATTRIBUTES", "MIRROR_DDB_READ_TIMEOUT", "AWS_REGION")
    parsed = {name: environ.reads.get(name) for name in shared}
    # When the API's reader is built
    reader = mirror_reader()
    # Then it read none of the variables the stack's settings hold again, and they agree
    assert {name: environ.reads.get(name) for name in shared} == parsed
    assert (reader.table_name, reader.indexed_attributes) == (settings.table_name, ("email",))
    assert reader.region == settings.region
