"""The example consumer (examples/consumer) on the local stack: a user's own service reading the mirror.

It runs in its own serverless-offline process, on a venv that holds only the built `cognito_mirror`
wheel, and reaches the mirror through DynamoDB Local and the mirror's Lambda API (repair function).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from scripts.library_venv import library_venv
from scripts.scenario import Scenario


def hello(scenario: Scenario, token: str | None) -> requests.Response:
    return scenario.get("/hello", token, scenario.info.consumer_url)


def json_body(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict), response.text
    return body


def signed_up_and_in(scenario: Scenario, name: str, given_name: str) -> tuple[str, str]:
    """(sub, access token) of a new user mirrored by PostConfirmation, signed in."""
    sub = scenario.sign_up(name, email=f"{name}@example.com", given_name=given_name)
    return sub, scenario.sign_in(name)


def assert_json_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert isinstance(json_body(response).get("message"), str)


def test_the_consumer_greets_a_signed_in_user_by_given_name_and_tenant(
    scenario: Scenario, unique: Callable[[str], str]
) -> None:
    # Given a user who signed up (mirrored by PostConfirmation) and signed in
    name = unique("ida")
    scenario.sign_up(name, email=f"{name}@example.com", given_name="Ida", custom__tenant="acme")
    token = scenario.sign_in(name)
    # When the consumer's GET /hello is called with the access token (which has no given_name)
    response = hello(scenario, token)
    # Then it greets her by the mirrored given_name and tenant
    assert response.status_code == 200, response.text
    assert json_body(response) == {"message": "Hello Ida of acme!", "given_name": "Ida", "tenant": "acme"}


def test_the_consumer_answers_401_without_a_token(scenario: Scenario) -> None:
    # Given no token / When GET /hello / Then the JWT authorizer refuses it
    assert hello(scenario, None).status_code == 401


def test_a_missing_row_is_healed_through_the_mirrors_repair_function(
    scenario: Scenario, unique: Callable[[str], str]
) -> None:
    # Given a signed-in user whose mirror row is gone (a write the mirror missed)
    name = unique("jay")
    sub = scenario.admin_create(name, email=f"{name}@example.com", given_name="Jay", custom__tenant="t1")
    token = scenario.sign_in(name)
    scenario.drop_row(sub)
    # When the consumer serves him (its role may only read the table and invoke the repair function)
    response = hello(scenario, token)
    # Then the repair function re-read him from Cognito, wrote the row, and the consumer greets him
    assert response.status_code == 200, response.text
    assert json_body(response)["given_name"] == "Jay"
    row = scenario.stored_row(sub)
    assert row is not None and row["attributes"]["given_name"] == "Jay"


def test_a_deleted_users_valid_token_gets_a_404_json_answer(
    scenario: Scenario, unique: Callable[[str], str]
) -> None:
    # Given a user whose token is still valid, deleted from the pool and tombstoned by the sync
    name = unique("kim")
    sub, token = signed_up_and_in(scenario, name, "Kim")
    scenario.delete_user(name)
    assert scenario.deliver_cloudtrail("AdminDeleteUser", username=name, sub=sub) == {"batchItemFailures": []}
    # When the consumer is called with that token
    response = hello(scenario, token)
    # Then it answers 404 with a JSON message (the library's error, not a 500)
    assert_json_error(response, 404)


def test_a_user_disabled_in_cognito_gets_a_403_json_answer(
    scenario: Scenario, unique: Callable[[str], str]
) -> None:
    # Given a signed-in user, then disabled in Cognito and synced (AdminDisableUser through attributeSync)
    name = unique("lou")
    sub, token = signed_up_and_in(scenario, name, "Lou")
    assert hello(scenario, token).status_code == 200
    scenario.disable_user(name)
    assert scenario.deliver_cloudtrail("AdminDisableUser", username=name, sub=sub) == {
        "batchItemFailures": []
    }
    # When the consumer is called with the token issued before
    response = hello(scenario, token)
    # Then it answers 403 with a JSON message
    assert_json_error(response, 403)


def test_the_consumers_python_has_the_wheel_and_not_the_repository(
    scenario: Scenario, tmp_path: Path
) -> None:
    # Given the venv the consumer runs on (the stack built it)
    python = library_venv() / "bin" / "python3"
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    # When it imports the library and the mirror's own packages from outside the repository
    probe = (
        "import importlib.util, cognito_mirror; print(cognito_mirror.__file__);"
        "print([m for m in ('functions', 'models', 'scripts') if importlib.util.find_spec(m)])"
    )
    run = subprocess.run(  # noqa: S603 - the venv's own interpreter
        [str(python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    location, found = run.stdout.splitlines()
    # Then the library comes from the venv's site-packages and none of the repository's packages exist
    assert "site-packages" in location and str(python.parent.parent) in location
    assert found == "[]"
