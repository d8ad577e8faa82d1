"""The caller read from verified claims: built once per distinct claim values and reused, with the
same answer as building it afresh (refusals and unparsable groups are never remembered)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from cognito_mirror import MirrorReader
from cognito_mirror._errors import UnauthenticatedError, UserNotFoundError
from cognito_mirror._identity import authorizer_claims, caller_from_claims, raw_event

ACCESS = frozenset({"access"})
CLAIMS: dict[str, Any] = {
    "token_use": "access",
    "sub": "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11",
    "username": "jane.doe",
    "cognito:groups": "[admin ops]",
}


def test_the_same_claims_give_the_same_caller_object_without_parsing_again() -> None:
    # Given two events carrying equal claims (separate dicts, as each invocation has)
    first, second = dict(CLAIMS), dict(CLAIMS)
    # When the caller is read from each
    one, two = caller_from_claims(first, ACCESS), caller_from_claims(second, ACCESS)
    # Then the second reuses the first, which is what a fresh build would give
    assert two is one
    assert (one.sub, one.username, one.groups) == (CLAIMS["sub"], "jane.doe", frozenset({"admin", "ops"}))


def test_a_null_username_is_not_a_missing_one() -> None:
    # Given claims that differ only in a null vs an absent username beside cognito:username
    null = {**CLAIMS, "username": None, "cognito:username": "jd"}
    absent = {k: v for k, v in null.items() if k != "username"}
    # When / Then each gives what its own claims say, whichever was read first
    assert caller_from_claims(null, ACCESS).username is None
    assert caller_from_claims(absent, ACCESS).username == "jd"
    assert caller_from_claims(null, ACCESS).username is None


def test_a_refused_token_kind_is_refused_every_time() -> None:
    # Given an ID token where only access tokens count
    claims = {**CLAIMS, "token_use": "id"}
    # When / Then it is refused, again and again, and accepted where ID tokens count
    for _ in range(2):
        with pytest.raises(UnauthenticatedError):
            caller_from_claims(claims, ACCESS)
    assert caller_from_claims(claims, frozenset({"access", "id"})).sub == CLAIMS["sub"]


@pytest.mark.parametrize("groups", ["admin ops", "{admin}", ["admin", ""]])
def test_unparsable_groups_are_reported_on_every_request(groups: Any) -> None:
    # Given a cognito:groups claim that does not parse
    claims = {**CLAIMS, "cognito:groups": groups}
    reported: list[None] = []
    # When the caller is read twice
    callers = [caller_from_claims(claims, ACCESS, lambda: reported.append(None)) for _ in range(2)]
    # Then each read reports it, and the caller has no groups
    assert len(reported) == 2
    assert all(caller.groups == frozenset() for caller in callers)


def test_a_list_of_groups_still_gives_exact_names() -> None:
    # Given the groups as a native list (a value that cannot be a key)
    claims = {**CLAIMS, "cognito:groups": ["admin", "ops"]}
    # When / Then the caller is built every time, with the same names
    assert caller_from_claims(claims, ACCESS).groups == frozenset({"admin", "ops"})


def test_claims_are_read_from_any_mapping_not_only_dicts() -> None:
    # Given an event whose levels are read-only mappings, not dicts
    claims: Mapping[str, Any] = MappingProxyType(dict(CLAIMS))
    jwt = MappingProxyType({"claims": claims})
    event = MappingProxyType({"requestContext": MappingProxyType({"authorizer": {"jwt": jwt}})})
    # When / Then the claims are found as in a plain dict event
    assert authorizer_claims(raw_event(event)) is claims
    assert authorizer_claims({"requestContext": {"authorizer": {"jwt": {"claims": {}}}}}) is None
    with pytest.raises(UnauthenticatedError):
        raw_event(["not", "an", "event"])


class _NoTable:
    """A DynamoDB client that must never be called."""

    def get_item(self, **_: Any) -> dict[str, Any]:
        raise AssertionError("a malformed sub was looked up")


@pytest.mark.parametrize("sub", ["", "../x", "a b", None, 7, ["x"], {"S": "x"}])
def test_a_malformed_sub_of_any_type_is_not_found_without_a_read(sub: Any) -> None:
    # Given a reader whose table must not be read
    reader = MirrorReader("mirror", dynamodb=_NoTable())
    # When a malformed sub is asked for / Then "not found", nothing read
    with pytest.raises(UserNotFoundError):
        reader.get(sub)
