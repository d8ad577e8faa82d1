"""The library's directory lookups (`MirrorReader.find_by_email`, `iter_users`) on moto, against rows
written by the mirror's own write path: one key format, so both sides agree."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from cognito_mirror import DirectoryQueryError, MirrorReader, MirrorUnavailableError
from cognito_mirror.record import DIRECTORY_SHARDS, index_keys, shard_of
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.fixtures import TABLE

TENANT = "custom:tenant"


def store(sub: str, **attributes: str) -> None:
    mirror_table().put_snapshot(
        UserSnapshot(sub, f"user-{sub}", attributes, "CONFIRMED", True, 1_764_000_000_000_000, "test")
    )


def counted_reader(calls: list[str], **options: Any) -> MirrorReader:
    client = boto3.client("dynamodb")
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    return MirrorReader(TABLE, dynamodb=client, **options)


def test_find_by_email_finds_a_user_written_by_the_mirror_in_any_case() -> None:
    # Given a user the mirror's write path stored with a mixed-case address
    store("sub-1", email="Jane.Doe@Example.com", email_verified="true", **{TENANT: "acme"})
    store("sub-2", email="other@example.com")
    calls: list[str] = []
    # When the library looks the address up in another case
    found = counted_reader(calls).find_by_email("jane.doe@EXAMPLE.com")
    # Then one profile, read with one Query (after the reader's one read of the layout record)
    assert [(p.sub, p.attributes["email"]) for p in found] == [("sub-1", "Jane.Doe@Example.com")]
    assert calls == ["GetItem", "Query"]


def test_iter_users_yields_every_live_user_of_a_tenant_lazily_and_never_a_tombstone() -> None:
    # Given 40 users of acme (one deleted) and 5 of globex
    acme = [f"acme-{i:02d}" for i in range(40)]
    for sub in acme:
        store(sub, **{TENANT: "acme"})
    for i in range(5):
        store(f"globex-{i}", **{TENANT: "globex"})
    mirror_table().put_tombstone("acme-07", observed_at=1_864_000_000_000_000, source="test")
    calls: list[str] = []
    reader = counted_reader(calls)
    # When the library iterates acme in pages of 3
    users = reader.iter_users(TENANT, "acme", page_size=3)
    first = next(users)
    reads_for_first = len(calls)
    rest = list(users)
    # Then it read lazily, in (shard, sub) order, acme's live users only, with Query calls only
    subs = [first.sub, *(p.sub for p in rest)]
    assert sorted(subs) == sorted(set(acme) - {"acme-07"})
    assert subs == sorted(subs, key=lambda sub: (shard_of(sub), sub))
    assert reads_for_first < len(calls)
    assert calls[0] == "GetItem" and set(calls[1:]) == {"Query"}


def test_the_library_and_the_mirror_agree_on_every_key() -> None:
    # Given the mirror's keys for a user (the write path's own function, under the default setting)
    attributes = {"email": "Mixed@Case.IO", TENANT: "acme"}
    written = mirror_table().expected_index_keys("s-1", attributes)
    # When the library's key format computes them
    ours = index_keys("s-1", attributes, ("email", TENANT))
    # Then they are the same keys, the tenant's in one of the shards
    assert written == ours
    assert ours["dir0"] == "email#mixed@case.io"
    assert ours["dir1"] == f"{TENANT}#acme#{shard_of('s-1'):02d}" and shard_of("s-1") < DIRECTORY_SHARDS


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("custom:role", "x", "not an indexed attribute"),
        (TENANT, "   ", "empty or too long"),
        (TENANT, "é" * 1100, "empty or too long"),
    ],
)
def test_a_lookup_the_indexes_cannot_answer_is_a_directory_query_error(
    attribute: str, value: str, message: str
) -> None:
    # Given a reader / When it is asked something no index holds / Then a 400-style error, no read
    calls: list[str] = []
    with pytest.raises(DirectoryQueryError, match=message) as raised:
        list(counted_reader(calls).iter_users(attribute, value))
    assert raised.value.status_code == 400
    assert calls == []


def test_the_slots_follow_the_configured_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a deployment indexing the tenant first (its row keys in dir0)
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", f"{TENANT},email")
    from tests.support.fixtures import reset_process_state

    reset_process_state()
    store("sub-9", email="x@example.com", email_verified="true", **{TENANT: "initech"})
    # When a reader configured from the same environment looks both up
    reader = MirrorReader.from_env()
    # Then it reads the right index for each
    assert reader.indexed_attributes == (TENANT, "email")
    assert [p.sub for p in reader.iter_users(TENANT, "initech")] == ["sub-9"]
    assert [p.sub for p in reader.find_by_email("X@example.com")] == ["sub-9"]


def test_a_failing_query_is_mirror_unavailable() -> None:
    from botocore.exceptions import EndpointConnectionError

    # Given DynamoDB refusing connections
    client = boto3.client("dynamodb")

    def refuse(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    client.meta.events.register("before-send.dynamodb.Query", refuse)
    # When the library looks up / Then MirrorUnavailableError (503)
    with pytest.raises(MirrorUnavailableError):
        MirrorReader(TABLE, dynamodb=client, ddb_max_retries=0).find_by_email("a@example.com")
