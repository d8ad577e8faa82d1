"""GET /users cursors on a default deploy: signed with the stack's secret (read once per container,
so any container resumes another's listing), refused as expired only past their lifetime."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from functions.common import cursor
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.helpers import body, get_users

TENANT = "custom:tenant"
ADMIN = "0c0c0c0c-0000-4000-8000-000000000001"
QUERY = {"attribute": TENANT, "value": "acme", "limit": "2"}


def call(params: dict[str, str]) -> dict[str, Any]:
    return get_users(params, sub=ADMIN, username="root")


@pytest.fixture(autouse=True)
def acme() -> None:
    # The administrator's own live row (a privilege needs it) and six users of one tenant.
    mirror_table().put_snapshot(
        UserSnapshot(ADMIN, "root", {}, "CONFIRMED", True, 1_764_000_000_000_000, "t")
    )
    for i in range(6):
        mirror_table().put_snapshot(
            UserSnapshot(
                f"acme-{i}", f"u{i}", {TENANT: "acme"}, "CONFIRMED", True, 1_764_000_000_000_000, "t"
            )
        )


@pytest.fixture
def stack_secret(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stack's generated secret, named to the API as a deploy does; the secret calls made."""
    arn = boto3.client("secretsmanager").create_secret(Name="cursor-key", SecretString="k" * 64)["ARN"]
    monkeypatch.setenv("MIRROR_CURSOR_KEY_SECRET", arn)
    from tests.support.fixtures import reset_process_state

    reset_process_state()
    calls: list[str] = []
    real = cursor.create_client

    def counted(service: str, **kwargs: Any) -> Any:
        client = real(service, **kwargs)
        client.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
        return client

    monkeypatch.setattr(cursor, "create_client", counted)
    return calls


def new_container() -> None:
    """What a cold start forgets: every per-process key and setting."""
    from tests.support.fixtures import reset_process_state

    reset_process_state()


def test_another_container_resumes_a_listing_with_the_stacks_secret(stack_secret: list[str]) -> None:
    # Given a deploy with no cursorKey parameter, and a first page served by one container
    first = body(call(QUERY))
    call({**QUERY, "cursor": first["cursor"]})
    # When another container (a cold start) is asked for the next page
    new_container()
    answer = call({**QUERY, "cursor": first["cursor"]})
    # Then it resumes the listing; each container read the secret once
    assert answer["statusCode"] == 200, answer
    assert stack_secret == ["GetSecretValue", "GetSecretValue"]


def test_an_explicit_cursor_key_overrides_the_secret(
    monkeypatch: pytest.MonkeyPatch, stack_secret: list[str]
) -> None:
    # Given the cursorKey parameter set as well
    monkeypatch.setenv("MIRROR_CURSOR_KEY", "e" * 64)
    new_container()
    # When pages are served by two containers
    first = body(call(QUERY))
    new_container()
    # Then the explicit key signs them, and the secret is never read
    assert call({**QUERY, "cursor": first["cursor"]})["statusCode"] == 200
    assert stack_secret == []


def test_an_unreadable_secret_is_a_503_not_a_random_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a secret the API cannot read
    monkeypatch.setenv(
        "MIRROR_CURSOR_KEY_SECRET", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-AbCdEf"
    )
    new_container()
    # When a listing needs a cursor
    answer = call(QUERY)
    # Then 503 (retry), JSON, never a cursor that no other container could read
    assert answer["statusCode"] == 503
    assert body(answer)["message"]


def test_a_cursor_is_refused_as_expired_only_past_its_lifetime(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a cursor issued at t0
    monkeypatch.setattr(cursor, "_now", lambda: 1_800_000_000)
    issued = body(call(QUERY))["cursor"]
    # When it comes back just within its lifetime, and just past it
    monkeypatch.setattr(cursor, "_now", lambda: 1_800_000_000 + cursor.CURSOR_LIFETIME_SECONDS)
    within = call({**QUERY, "cursor": issued})
    monkeypatch.setattr(cursor, "_now", lambda: 1_800_000_001 + cursor.CURSOR_LIFETIME_SECONDS)
    past = call({**QUERY, "cursor": issued})
    # Then the first is served, the second is a 400 that says it expired
    assert within["statusCode"] == 200
    assert past["statusCode"] == 400
    assert "cursor expired" in body(past)["message"]


def test_a_forged_or_foreign_cursor_is_invalid_never_expired() -> None:
    # Given a real cursor of acme's listing
    issued = body(call(QUERY))["cursor"]
    payload, mac = issued.split(".")
    # When it is replayed on another query, or its mac altered
    foreign = call({"attribute": TENANT, "value": "globex", "cursor": issued})
    forged = call({**QUERY, "cursor": f"{payload}.{mac[:-2]}{'A' if mac[-2] != 'A' else 'B'}{mac[-1]}"})
    # Then both are 400 "invalid for this query", not "expired"
    for answer in (foreign, forged):
        assert answer["statusCode"] == 400
        message = body(answer)["message"]
        assert "invalid for this query" in message and "expired" not in message
