"""The repair function: readers' misses heal through the one guarded write path."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from cognito_mirror import MirrorReader, Profile
from tests.support.fixtures import TABLE
from tests.support.helpers import FakeLambdaContext


def invoke(payload: Any) -> dict[str, Any]:
    from functions.repair_user import handler

    answer: dict[str, Any] = handler(payload, FakeLambdaContext())
    return answer


def test_a_known_user_is_written_and_answered(cognito: Any, raw_item: Any) -> None:
    # Given a user in Cognito with no mirror row
    sub = cognito.create_user("jane.doe", email="jane@example.com", custom__tenant="acme")
    # When a reader asks for them by sub and username
    answer = invoke({"sub": sub, "username": "jane.doe"})
    # Then the profile comes back in the GET /me shape and the row is stored
    assert answer["found"] is True
    profile = Profile.from_dict(answer["profile"])
    assert profile.attributes["custom:tenant"] == "acme"
    assert raw_item(sub)["source"] == {"S": "read_through"}


def test_a_username_of_another_user_is_not_found(cognito: Any) -> None:
    # Given two users
    sub = cognito.create_user("jane.doe", email="jane@example.com")
    cognito.create_user("mallory", email="mallory@example.com")
    # When the request names jane's sub with mallory's username
    answer = invoke({"sub": sub, "username": "mallory"})
    # Then nobody is answered: never mallory's data under jane's sub
    assert answer == {"found": False}


def test_a_request_by_sub_alone_finds_the_user_by_filter(cognito: Any) -> None:
    # Given a user / When an admin lookup asks by sub only / Then the ListUsers filter finds them
    sub = cognito.create_user("jane.doe", email="jane@example.com")
    assert invoke({"sub": sub, "username": None})["profile"]["username"] == "jane.doe"


def test_an_unknown_sub_is_not_found(cognito: Any, raw_item: Any) -> None:
    # Given no such user / When asked / Then not found and nothing written
    assert invoke({"sub": "0000-unknown", "username": None}) == {"found": False}
    assert raw_item("0000-unknown") is None


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "sub",
        [],
        {},
        {"sub": ""},
        {"sub": "ok\n"},
        {"sub": 'x" or sub ^= "'},
        {"sub": "ok", "username": 3},
    ],
)
def test_a_malformed_request_gets_an_error_answer_not_a_traceback(cognito: Any, payload: Any) -> None:
    # Given a malformed request / When invoked / Then a one-line error answer
    answer = invoke(payload)
    assert set(answer) == {"error"}


def test_a_reader_with_the_repair_logic_heals_a_miss(cognito: Any) -> None:
    # Given a reader whose repair is the function's logic, and a user missing from the mirror
    from functions.common.repair import repair_user

    sub = cognito.create_user("jane.doe", email="jane@example.com")
    reader = MirrorReader(TABLE, repair=partial(repair_user, user_pool_id=cognito.id), cache_ttl_seconds=0)
    # When the user is read twice
    first = reader.get(sub)
    second = MirrorReader(TABLE).get(sub)
    # Then the first read repaired the row and the second (no repair) finds it in the mirror
    assert first.attributes["email"] == second.attributes["email"] == "jane@example.com"


def test_a_cognito_outage_is_a_plain_error_in_process_and_an_error_answer_from_the_lambda(
    cognito: Any, monkeypatch: pytest.MonkeyPatch, raw_item: Any
) -> None:
    from functions.common import cognito as cognito_module
    from functions.common import repair
    from functions.common.errors import CognitoUnavailableError

    def down(**_: Any) -> None:
        raise CognitoUnavailableError("Cognito call failed: InternalErrorException")

    # Given Cognito failing
    monkeypatch.setattr(cognito_module, "read_user", down)
    sub = "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"
    # When the use case is called in-process / Then it raises the plain "Cognito unavailable" error
    with pytest.raises(CognitoUnavailableError):
        repair.repair_user(sub, "jane.doe", user_pool_id=cognito.id)
    # When the repair Lambda is invoked / Then it answers an error (the reader's 503), writing nothing
    assert invoke({"sub": sub, "username": "jane.doe"}) == {"error": "Cognito unavailable"}
    assert raw_item(sub) is None


def test_the_use_case_answers_a_typed_profile_or_none(cognito: Any) -> None:
    from functions.common.repair import repair_user

    # Given one user in Cognito
    sub = cognito.create_user("jane.doe", email="jane@example.com")
    # When the use case is asked for them, and for a username of nobody
    found = repair_user(sub, "jane.doe", user_pool_id=cognito.id)
    missing = repair_user(sub, "nobody", user_pool_id=cognito.id)
    # Then a Profile comes back for the user and None for nobody (no JSON in-process)
    assert isinstance(found, Profile)
    assert (found.sub, found.attributes["email"]) == (sub, "jane@example.com")
    assert missing is None


def test_a_username_nobody_has_costs_one_admin_get_user_and_no_search(cognito: Any) -> None:
    from functions.common import cognito as cognito_module
    from functions.common.repair import repair_user

    # Given a token's sub and username of a user gone from Cognito, and every Cognito call recorded
    calls: list[str] = []
    client = cognito_module.cognito_client(interactive=True)
    client.meta.events.register("before-call.cognito-idp.*", lambda model, **_: calls.append(model.name))
    # When the use case is asked for them
    missing = repair_user("0c0c0c0c-0000-4000-8000-000000000098", "gone.user", user_pool_id=cognito.id)
    # Then nobody, from one AdminGetUser: no ListUsers fallback by sub
    assert missing is None
    assert calls == ["AdminGetUser"]
