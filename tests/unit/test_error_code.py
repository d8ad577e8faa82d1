"""One `error_code` names what went wrong in a one-line message, for the library and the stack alike."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

import models.errors
from cognito_mirror._aws import error_code


def client_error(error: dict[str, Any]) -> ClientError:
    return ClientError({"Error": error}, "GetItem")  # type: ignore[arg-type]


class WithResponse(Exception):
    def __init__(self, response: object) -> None:
        super().__init__("failed")
        self.response = response


def test_the_data_layer_uses_the_librarys_one_function() -> None:
    # Given the data layer's name / Then it is the library's function itself
    assert models.errors.error_code is error_code


def test_a_refused_call_is_named_by_its_aws_code() -> None:
    # Given a call AWS refused
    refused = client_error({"Code": "ThrottlingException", "Message": "slow down"})
    # When it is named / Then by AWS's code
    assert error_code(refused) == "ThrottlingException"


@pytest.mark.parametrize(
    "exc",
    [
        NoCredentialsError(),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        client_error({}),
        client_error({"Code": ""}),
        WithResponse("a text, not a mapping"),
        WithResponse({"Error": {"Code": 500}}),
        KeyboardInterrupt(),
    ],
    ids=["no-credentials", "unreachable", "no-code", "empty-code", "text-response", "numeric-code", "base"],
)
def test_anything_without_a_usable_aws_code_is_named_by_its_type(exc: BaseException) -> None:
    # Given an error that carries no usable AWS code / When it is named / Then by its type
    assert error_code(exc) == type(exc).__name__
