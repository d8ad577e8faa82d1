"""The API's 401 for a token of a kind it does not accept says why, in the body and in RFC 6750's
`WWW-Authenticate` challenge (the library decides: cognito_mirror/_identity.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.fixtures import reset_process_state
from tests.support.helpers import FakeLambdaContext, body, http_event

SUB = "0c0c0c0c-0000-4000-8000-000000000001"


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": SUB, "username": "caller", "token_use": "access", **extra}


def test_an_id_token_gets_a_401_that_says_why_and_names_the_setting() -> None:
    from functions import api

    # Given the claims of an ID token (the API accepts access tokens by default)
    event = http_event("/me", claims=claims(token_use="id", aud="1example23456789"))
    # When it is sent to the API
    response = api.handler(event, FakeLambdaContext())
    # Then 401, and both the body and RFC 6750's WWW-Authenticate say what to do
    description = "An ID token was sent: only access tokens are accepted (setting MIRROR_ACCEPTED_TOKEN_USE)"
    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == {"statusCode": 401, "message": description}
    assert response["headers"]["WWW-Authenticate"] == (
        f'Bearer error="invalid_token", error_description="{description}"'
    )


def test_with_id_tokens_only_an_access_token_gets_the_mirror_image_401(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions import api

    # Given MIRROR_ACCEPTED_TOKEN_USE=id
    monkeypatch.setenv("MIRROR_ACCEPTED_TOKEN_USE", "id")
    reset_process_state()
    # When an access token's claims arrive / Then the 401 names the kind that counts
    response = api.handler(http_event("/me", claims=claims()), FakeLambdaContext())
    assert body(response)["message"] == (
        "An access token was sent: only ID tokens are accepted (setting MIRROR_ACCEPTED_TOKEN_USE)"
    )
