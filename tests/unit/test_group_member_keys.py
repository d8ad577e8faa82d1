"""The group-members table's key format (cognito_mirror/group_members.py)."""

from __future__ import annotations

import pytest

from cognito_mirror.group_members import member_key, query_keys, valid_group
from cognito_mirror.record import DIRECTORY_SHARDS, shard_of


def test_a_membership_is_keyed_by_its_group_and_the_users_directory_shard() -> None:
    # Given a user and a group
    sub = "0f8fad5b-d9cb-469f-a165-70867728950e"
    # When its membership is keyed
    key = member_key("admin", sub)
    # Then the key is the group and the user's shard, one of the partitions a listing reads
    assert key == f"admin#{shard_of(sub):02d}"
    assert key in query_keys("admin")
    assert len(query_keys("admin")) == DIRECTORY_SHARDS


def test_a_group_name_ending_like_a_shard_keeps_its_own_partitions() -> None:
    # Given two groups, one named like the other's partition
    # Then no partition of one is a partition of the other
    assert not set(query_keys("admin")) & set(query_keys("admin#01"))


@pytest.mark.parametrize("name", ["admin", "ops,admin", '"admin"', "a#b", "é", "x" * 128])
def test_names_cognito_allows_are_valid_groups(name: str) -> None:
    assert valid_group(name)


@pytest.mark.parametrize("name", ["", "x" * 129, "two words", "tab\t", "nul\x00", None, 7])
def test_empty_long_spaced_or_control_names_are_not_groups(name: object) -> None:
    assert not valid_group(name)
