"""Who the caller is, as the reader decides it from API Gateway's authorizer claims: the token kinds it
accepts, a usable subject, and the cognito:groups claim parsed to exact group names (no table read)."""

from __future__ import annotations

from typing import Any

import pytest

from cognito_mirror import MirrorReader, UnauthenticatedError
from cognito_mirror._identity import parse_groups
from tests.support.fixtures import TABLE
from tests.support.helpers import http_event

SUB = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"


def claims(sub: str = SUB, **extra: Any) -> dict[str, Any]:
    return {"sub": sub, "username": "jane.doe", "token_use": "access", **extra}


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        (["admin", "ops"], {"admin", "ops"}),
        ("[admin ops]", {"admin", "ops"}),
        ("[admin]", {"admin"}),
        ('["admin"]', {'"admin"'}),
        ("[a,b]", {"a,b"}),
        ("admin", set()),
        ("[]", set()),
        (42, set()),
        (["admin", 3], set()),
        ("[ops admin]", {"ops", "admin"}),
        ("", set()),
        (None, set()),
        # Names are kept exactly as API Gateway flattened them: quotes, commas and brackets included.
        ("['admin']", {"'admin'"}),
        ('[admin"]', {'admin"'}),
        ('["admin","ops"]', {'"admin","ops"'}),
        ("[admin,ops]", {"admin,ops"}),
        ("[[admin] ops]", {"[admin]", "ops"}),
        (["ops,admin"], {"ops,admin"}),
        ("[admin", set()),
        ("admin]", set()),
        (" [admin]", set()),
        ({"admin": 1}, set()),
        ([""], set()),
    ],
)
def test_groups_are_parsed_only_from_a_list_or_api_gateway_flattening(claim: Any, groups: set[str]) -> None:
    # Given a cognito:groups claim / When parsed / Then exact names, or none
    assert parse_groups(claim) == groups


@pytest.mark.parametrize("token_use", ["id", None, "refresh", ["access"], {"access": 1}])
def test_only_access_tokens_identify_a_caller_by_default(token_use: Any) -> None:
    # Given authorizer claims of another token kind
    reader = MirrorReader(TABLE)
    # When the caller is resolved / Then 401
    with pytest.raises(UnauthenticatedError):
        reader.get_caller(http_event("/me", claims=claims(token_use=token_use)))


@pytest.mark.parametrize("subject", [{"sub": None}, {"sub": ""}, {"sub": 12}])
def test_claims_without_a_usable_sub_are_401(subject: dict[str, Any]) -> None:
    # Given an access token's claims with no usable subject
    event = http_event("/me", claims={k: v for k, v in claims(**subject).items() if v is not None})
    # When the caller is resolved / Then 401
    with pytest.raises(UnauthenticatedError):
        MirrorReader(TABLE).get_caller(event)


def test_id_tokens_identify_a_caller_when_accepted() -> None:
    # Given a reader configured to accept ID tokens
    reader = MirrorReader(TABLE, accepted_token_use=["access", "id"])
    # When an ID token's claims arrive / Then they identify the caller
    assert reader.get_caller(http_event("/me", claims=claims(token_use="id"))).sub == SUB
