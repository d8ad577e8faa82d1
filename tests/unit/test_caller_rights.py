"""Who holds a group (the token ∩ the mirrored row) and the profile's groups, without a table."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognito_mirror import Profile
from cognito_mirror._rights import held_groups

ROW = {
    "sub": "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11",
    "username": "jane",
    "attributes": {},
    "status": "CONFIRMED",
    "enabled": True,
    "observed_at": 1,
}


@pytest.mark.parametrize(
    ("token", "row", "held"),
    [
        ({"admin", "ops"}, ("admin", "ops"), {"admin", "ops"}),
        ({"admin", "ops"}, ("ops",), {"ops"}),
        ({"admin"}, (), set()),
        ({"ops"}, ("admin", "ops"), {"ops"}),
        ({"admin"}, None, {"admin"}),
        (set(), ("admin",), set()),
    ],
)
def test_a_group_is_held_when_the_token_and_a_known_row_both_say_so(
    token: set[str], row: tuple[str, ...] | None, held: set[str]
) -> None:
    # Given the token's groups and the row's (None: unknown) / Then their intersection, or the token's
    assert held_groups(frozenset(token), row) == frozenset(held)


_NAMES = st.frozensets(st.sampled_from(["admin", "Admin", "ops", "tenant-admin", "admin ", "ops,admin"]))


@given(token=_NAMES, row=st.none() | _NAMES.map(lambda names: tuple(sorted(names))))
def test_the_mirror_never_grants_a_group_the_token_lacks(token: frozenset[str], row: Any) -> None:
    # Given any token groups and any row groups (or unknown)
    held = held_groups(token, row)
    # Then every group held is the token's, and the row's when the row knows its groups
    assert held <= token
    assert row is None or held <= set(row)


@pytest.mark.parametrize(("groups", "shown"), [(None, None), ((), []), (("admin", "ops"), ["admin", "ops"])])
def test_the_profile_tells_unknown_groups_from_no_group(groups: Any, shown: Any) -> None:
    # Given a row whose groups are unknown, none, or two
    profile = Profile.from_row({**ROW, "groups": groups})
    # When shown and read back as the repair function answers it
    data = profile.to_dict()
    # Then null stays unknown and [] stays "no group"
    assert data["groups"] == shown
    assert Profile.from_dict(data) == profile


def test_a_profile_answer_without_groups_has_unknown_groups_and_bad_groups_are_refused() -> None:
    # Given the GET /me shape of an older mirror (no groups field), and one with a malformed one
    older = {k: v for k, v in Profile.from_row(ROW).to_dict().items() if k != "groups"}
    # Then the first reads as unknown groups, the second is not a profile
    assert Profile.from_dict(older).groups is None
    with pytest.raises(ValueError):
        Profile.from_dict({**older, "groups": "admin"})
