"""The user directory's data side: settings, normalisation, sparse index keys on every write, queries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cognito_mirror.record import DIRECTORY_SHARDS, index_keys, normalise_value, partition_key, shard_of
from models.directory import Continuation, query_users
from models.errors import DirectoryQueryError
from models.guard import WriteOutcome
from models.settings import ConfigurationError, get_settings, load_settings
from models.table import MirrorTable, mirror_table
from models.user import UserSnapshot
from tests.support.fixtures import reset_process_state

TENANT = "custom:tenant"


def user(sub: str, observed_at: int = 100, **attributes: str) -> UserSnapshot:
    return UserSnapshot(sub, f"user-{sub}", attributes, "CONFIRMED", True, observed_at, "test")


def tenant_user(sub: str, tenant: str, observed_at: int = 100) -> UserSnapshot:
    return user(sub, observed_at, email=f"{sub}@example.com", **{TENANT: tenant})


def everyone(attribute: str, value: str, page: int) -> tuple[list[str], int]:
    """Every sub a paged query returns, in order, and how many pages it took."""
    subs: list[str] = []
    after: Continuation | None = None
    pages = 0
    while True:
        result = query_users(attribute, value, limit=page, after=after)
        pages += 1
        subs += [found.sub for found in result.users]
        if result.next is None:
            return subs, pages
        after = result.next


# --- settings -----------------------------------------------------------------------------------


def test_the_default_indexes_email_and_tenant() -> None:
    # Given no MIRROR_INDEXED_ATTRIBUTES / When settings load / Then e-mail and tenant are indexed
    assert load_settings().indexed_attributes == ("email", TENANT)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("email,custom:tenant,phone_number,locale", "at most 3"),
        ("email,email", "twice"),
        ("email_verified", "cannot be indexed"),
        ("custom:this-name-is-far-too-long", "cannot be indexed"),
        ("sub", "cannot be indexed"),
    ],
)
def test_an_unusable_indexed_attribute_setting_is_refused(
    monkeypatch: pytest.MonkeyPatch, raw: str, message: str
) -> None:
    # Given a setting naming too many, repeated or unknown attributes
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", raw)
    # When settings load / Then a ConfigurationError says why
    with pytest.raises(ConfigurationError, match=message):
        load_settings()


def test_an_indexed_attribute_that_is_not_mirrored_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an allowlist without the tenant attribute, and the tenant chosen for indexing
    monkeypatch.setenv("MIRROR_ATTRIBUTES", "email,given_name")
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", "email,custom:tenant")
    # When settings load / Then it is refused
    with pytest.raises(ConfigurationError, match="not mirrored"):
        load_settings()


def test_the_default_indexes_only_what_an_allowlist_mirrors(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an allowlist without the tenant attribute and no index setting
    monkeypatch.setenv("MIRROR_ATTRIBUTES", "email,email_verified,given_name")
    # When settings load / Then only e-mail is indexed (a deployment from before keeps starting)
    assert load_settings().indexed_attributes == ("email",)


def test_none_indexes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given MIRROR_INDEXED_ATTRIBUTES=none / When settings load / Then no attribute is indexed
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", "none")
    assert load_settings().indexed_attributes == ()


# --- normalisation and keys ---------------------------------------------------------------------


def test_email_is_normalised_ascii_case_blind_and_other_values_kept_exactly() -> None:
    # Given values as users and operators type them / When normalised / Then
    assert normalise_value("email", "Alice@Example.COM") == "alice@example.com"
    assert normalise_value("email", " Élise@X.io") == " Élise@x.io"
    assert normalise_value(TENANT, "  Acme Corp ") == "  Acme Corp "


def test_email_keys_are_unsharded_and_tenant_keys_carry_the_users_shard() -> None:
    # Given a user with an e-mail and a tenant
    keys = index_keys("sub-1", {"email": "A@X.io", TENANT: "acme"}, ("email", TENANT))
    # Then the e-mail key has no shard, the tenant key the sub's shard, the unused slot none
    assert keys == {
        "dir0": "email#a@x.io",
        "dir1": f"custom:tenant#acme#{shard_of('sub-1'):02d}",
        "dir2": None,
    }


def test_an_empty_or_oversized_value_is_not_indexed() -> None:
    # Given a blank e-mail and a tenant value too long for a GSI key
    keys = index_keys("s", {"email": "   ", TENANT: "é" * 1100}, ("email", TENANT))
    # Then neither gets a key
    assert keys == {"dir0": None, "dir1": None, "dir2": None}


# --- the write path -----------------------------------------------------------------------------


def test_a_snapshot_carries_the_index_keys_of_the_attributes_it_has(raw_item: Any) -> None:
    # Given a user with an e-mail but no tenant
    mirror_table().put_snapshot(user("s1", email="Jane@Example.com"))
    # Then the row has the e-mail key and no tenant key (the tenant index stays sparse)
    item = raw_item("s1")
    assert item["dir0"] == {"S": "email#jane@example.com"}
    assert "dir1" not in item
    assert "dir2" not in item


def test_a_newer_snapshot_without_the_attribute_removes_its_key(raw_item: Any) -> None:
    # Given a user in tenant acme
    mirror_table().put_snapshot(tenant_user("s1", "acme", 100))
    # When a newer snapshot has no tenant
    mirror_table().put_snapshot(user("s1", 200, email="s1@example.com"))
    # Then the tenant key is gone and the listing no longer finds the user
    assert "dir1" not in raw_item("s1")
    assert query_users(TENANT, "acme", limit=10).users == []


def test_a_tombstone_removes_every_index_key_and_a_revive_restores_them(raw_item: Any) -> None:
    # Given an indexed user
    mirror_table().put_snapshot(tenant_user("s1", "acme", 100))
    # When the user is deleted
    mirror_table().put_tombstone("s1", observed_at=200, source="test")
    # Then the tombstone carries no key and no query lists it
    assert not {"dir0", "dir1", "dir2"} & set(raw_item("s1"))
    assert query_users("email", "s1@example.com", limit=10).users == []
    # When a wrong tombstone is revived
    assert mirror_table().revive_tombstone(tenant_user("s1", "acme", 300)) is WriteOutcome.WRITTEN
    # Then the user is found again
    assert [u.sub for u in query_users(TENANT, "acme", limit=10).users] == ["s1"]


# --- queries ------------------------------------------------------------------------------------


def test_find_by_email_matches_whatever_the_case_and_returns_the_listing_fields() -> None:
    # Given a user stored with a mixed-case e-mail
    mirror_table().put_snapshot(
        user("s1", email="Jane.Doe@Example.com", email_verified="true", given_name="Jane")
    )
    # When an operator looks for the address in another case
    page = query_users("email", "JANE.DOE@example.COM", limit=5)
    # Then the user comes back whole, and the listing is complete
    assert page.next is None
    assert [(u.sub, u.username, u.status, u.enabled, u.observed_at) for u in page.users] == [
        ("s1", "user-s1", "CONFIRMED", True, 100)
    ]
    assert page.users[0].attributes == {
        "email": "Jane.Doe@Example.com",
        "email_verified": "true",
        "given_name": "Jane",
    }


def test_a_tenant_listing_merges_every_shard_in_a_stable_order_page_by_page() -> None:
    # Given 40 users of tenant acme (spread over the shards) and 5 of another tenant
    subs = [f"u{i:03d}" for i in range(40)]
    for sub in subs:
        mirror_table().put_snapshot(tenant_user(sub, "acme"))
    for i in range(5):
        mirror_table().put_snapshot(tenant_user(f"x{i}", "other"))
    # When listed 7 at a time
    listed, pages = everyone(TENANT, "acme", 7)
    # Then each user of acme comes exactly once, in (shard, sub) order, in ceil(40/7) or so pages
    assert listed == sorted(subs, key=lambda sub: (shard_of(sub), sub))
    assert len({shard_of(sub) for sub in subs}) > 1
    assert 6 <= pages <= 6 + DIRECTORY_SHARDS


def test_a_page_boundary_inside_a_shard_resumes_after_the_last_row() -> None:
    # Given several users in one shard
    same_shard = [f"s{i}" for i in range(200) if shard_of(f"s{i}") == 3][:5]
    for sub in same_shard:
        mirror_table().put_snapshot(tenant_user(sub, "acme"))
    # When listed 2 at a time
    listed, _ = everyone(TENANT, "acme", 2)
    # Then nothing is repeated or skipped
    assert listed == sorted(same_shard)


@pytest.mark.parametrize(
    ("attribute", "value", "limit", "after"),
    [
        ("given_name", "Jane", 10, None),
        ("email", "   ", 10, None),
        ("email", "a@example.com", 0, None),
        ("email", "a@example.com", 501, None),
        ("email", "a@example.com", 10, Continuation(1)),
        (TENANT, "acme", 10, Continuation(DIRECTORY_SHARDS)),
        (TENANT, "acme", 10, Continuation(0, {"sub": {"S": "s"}, "dir1": {"S": "custom:tenant#evil#00"}})),
        (TENANT, "acme", 10, Continuation(0, {"sub": {"S": "s"}, "dir0": {"S": "custom:tenant#acme#00"}})),
    ],
)
def test_a_query_the_directory_cannot_answer_is_a_clear_error(
    attribute: str, value: str, limit: int, after: Continuation | None
) -> None:
    # Given an unindexed attribute, a blank value, a bad limit or a continuation of another query
    # When queried / Then DirectoryQueryError (a caller's fault), never a scan of something else
    with pytest.raises(DirectoryQueryError):
        query_users(attribute, value, limit=limit, after=after)


# --- reindex writes -----------------------------------------------------------------------------


def test_put_index_keys_rewrites_only_the_keys_of_the_same_snapshot(raw_item: Any) -> None:
    # Given a row written when only e-mail was indexed (tenant in slot 0 is missing)
    mirror_table().put_snapshot(tenant_user("s1", "acme", 100))
    before = raw_item("s1")
    keys = index_keys("s1", {TENANT: "acme"}, (TENANT,))
    # When its keys are rewritten for the observation it holds
    outcome = mirror_table().put_index_keys("s1", observed_at=100, keys=keys)
    # Then only the keys changed: observed_at and the rest are as they were
    after = raw_item("s1")
    assert outcome is WriteOutcome.WRITTEN
    assert after["dir0"] == {"S": partition_key(TENANT, "acme", shard_of("s1"))}
    assert "dir1" not in after
    assert {k: v for k, v in after.items() if not k.startswith("dir")} == {
        k: v for k, v in before.items() if not k.startswith("dir")
    }


def test_put_index_keys_is_a_no_op_on_a_newer_row_or_a_tombstone(raw_item: Any) -> None:
    # Given a row newer than the observation the keys came from, and a tombstone
    mirror_table().put_snapshot(tenant_user("s1", "acme", 200))
    mirror_table().put_tombstone("s2", observed_at=100, source="test")
    keys = {"dir0": "email#wrong", "dir1": None, "dir2": None}
    # When keys are rewritten for observation 100 / Then neither row changes
    assert mirror_table().put_index_keys("s1", observed_at=100, keys=keys) is WriteOutcome.SKIPPED
    assert mirror_table().put_index_keys("s2", observed_at=100, keys=keys) is WriteOutcome.SKIPPED
    assert raw_item("s1")["dir0"] == {"S": "email#s1@example.com"}
    assert "dir0" not in raw_item("s2")


def test_get_record_reads_back_the_stored_keys() -> None:
    # Given an indexed user / When read / Then the record exposes its keys for a verify
    mirror_table().put_snapshot(tenant_user("s1", "acme"))
    record = mirror_table().get_record("s1")
    assert record is not None
    assert record.stored_index_keys()["dir0"] == "email#s1@example.com"


# --- property: the index never lists a tombstone ------------------------------------------------

SUBS = ("p1", "p2", "p3")
write = st.tuples(
    st.sampled_from(("snapshot", "tombstone", "revive")),
    st.sampled_from(SUBS),
    st.integers(min_value=1, max_value=50),
    st.sampled_from(("acme", "other")),
)


@settings(max_examples=40, deadline=None)
@given(writes=st.lists(write, max_size=12))
def test_the_index_never_lists_a_tombstone_whatever_the_order_of_writes(
    writes: list[tuple[str, str, int, str]],
) -> None:
    # Given a fresh table
    reset_process_state()
    import boto3

    from tests.support.fixtures import TABLE

    ddb = boto3.client("dynamodb")
    for sub in SUBS:
        ddb.delete_item(TableName=TABLE, Key={"sub": {"S": sub}})
    # When snapshots, tombstones and revivals land in any order
    for kind, sub, observed_at, tenant in writes:
        if kind == "snapshot":
            mirror_table().put_snapshot(tenant_user(sub, tenant, observed_at))
        elif kind == "tombstone":
            mirror_table().put_tombstone(sub, observed_at=observed_at, source="test")
        else:
            mirror_table().revive_tombstone(tenant_user(sub, tenant, observed_at))
    # Then the listing is exactly the live rows of that tenant: never a tombstone
    for tenant in ("acme", "other"):
        listed = {u.sub for u in query_users(TENANT, tenant, limit=50).users}
        live = set()
        for sub in SUBS:
            record = mirror_table().get_record(sub, consistent=True)
            live_row = record is not None and not record.is_tombstone
            if live_row and record is not None and record.to_snapshot().attributes.get(TENANT) == tenant:
                live.add(sub)
        assert listed == live
    assert get_settings().indexed_attributes == ("email", TENANT)


# --- the operators' command ---------------------------------------------------------------------


def directory_cli(*args: str) -> int:
    from functions.directory import main

    return main(["--table", "mirror-test", *args])


def test_the_command_finds_a_user_by_email_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a mirrored user
    mirror_table().put_snapshot(user("s1", email="Jane@Example.com", email_verified="true"))
    # When an operator looks the address up in another case
    code = directory_cli("--find-email", "jane@EXAMPLE.com", "--json")
    # Then exit 0 and the user, complete
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["complete"] is True
    assert [(u["sub"], u["username"], u["enabled"]) for u in result["users"]] == [("s1", "user-s1", True)]


def test_the_command_lists_a_tenant_up_to_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    # Given five users of acme
    for i in range(5):
        mirror_table().put_snapshot(tenant_user(f"t{i}", "acme"))
    # When listed with --limit 3
    code = directory_cli("--find", "custom:tenant=acme", "--limit", "3")
    # Then three lines, and a note that more match
    captured = capsys.readouterr()
    assert code == 0
    assert len(captured.out.splitlines()) == 3
    assert "more users match" in captured.err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--find-email", "nobody@example.com"), 1, ""),
        (("--find", "given_name=Jane"), 2, "not an indexed attribute"),
        (("--find-email", "   "), 2, "empty or too long"),
    ],
)
def test_the_command_answers_nothing_found_or_bad_input_in_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int, message: str
) -> None:
    # Given an empty mirror / When looked up / Then the documented exit code and one line at most
    assert directory_cli(*args) == code
    err = capsys.readouterr().err
    assert message in err
    assert len(err.splitlines()) <= 1


def test_the_command_rejects_a_malformed_find_as_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Given --find without "=" / When parsed / Then exit 2 with the expected form
    with pytest.raises(SystemExit) as exited:
        directory_cli("--find", "custom:tenant")
    assert exited.value.code == 2
    assert "ATTRIBUTE=VALUE" in capsys.readouterr().err


def test_the_command_on_a_missing_table_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a table that does not exist
    from functions.directory import main

    # When looked up / Then exit 4 with one line naming the cause
    assert main(["--table", "no-such-table", "--find-email", "a@example.com"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("directory: error: mirror query failed: ResourceNotFoundException")
    assert len(err.splitlines()) == 1


def test_after_a_shard_read_to_its_end_the_next_shards_are_read_in_parallel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    # Given a small tenant (3 users across the 16 shards)
    for i in range(3):
        mirror_table().put_snapshot(tenant_user(f"small-{i}", "initech"))
    threads: list[str] = []
    real = MirrorTable.query_index

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(MirrorTable, "query_index", recorded)
    # When it is listed in one page
    page = query_users(TENANT, "initech", limit=50)
    # Then one Query per shard: the first alone, the 15 others at once on the directory's threads
    assert sorted(found.sub for found in page.users) == ["small-0", "small-1", "small-2"]
    assert page.next is None
    assert len(threads) == DIRECTORY_SHARDS
    assert sum(name.startswith("directory") for name in threads) == DIRECTORY_SHARDS - 1


def test_a_page_that_fills_inside_a_shard_resumes_right_after_its_last_user() -> None:
    # Given 60 users of one tenant
    subs = [f"big-{i:03d}" for i in range(60)]
    for sub in subs:
        mirror_table().put_snapshot(tenant_user(sub, "umbrella"))
    # When it is listed 7 at a time
    listed, pages = everyone(TENANT, "umbrella", 7)
    # Then every page but the last is full, and every user comes once, in (shard, sub) order
    assert listed == sorted(subs, key=lambda sub: (shard_of(sub), sub))
    assert pages == 9
