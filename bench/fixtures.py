"""The user every benchmark reads and writes, taken from the test event fixtures."""

from __future__ import annotations

from typing import Any

from models.user import UserSnapshot, snapshot_from_trigger
from tests.support.helpers import FakeLambdaContext, load_event

__all__ = ["FakeLambdaContext", "get_hello_event", "get_me_event", "load_event", "seed_user"]


def get_me_event() -> dict[str, Any]:
    """`GET /me` for the fixture's caller, claims from the JWT authorizer."""
    return load_event("apigw_http_get_me")


def get_hello_event() -> dict[str, Any]:
    """The example consumer's `GET /hello` for the same caller."""
    event = get_me_event()
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/hello"
    event["routeKey"] = "GET /hello"
    return event


def seed_user() -> UserSnapshot:
    """Write the fixture user through the mirror's guarded write path; return its snapshot."""
    from models.table import mirror_table

    event = load_event("post_authentication")
    snapshot = snapshot_from_trigger(
        event["userName"], event["request"]["userAttributes"], allowlist=None, source="bench"
    )
    mirror_table().put_snapshot(snapshot)
    return snapshot
