"""The functions layer's errors are one tree with the library's (functions/common/errors.py)."""

from __future__ import annotations

import pytest

import cognito_mirror
from functions.common.errors import DEPENDENCY_DOWN, CognitoThrottledError, ServiceUnavailableError
from models.errors import MirrorUnavailableError as TableUnavailableError


@pytest.mark.parametrize(
    "outage",
    [
        CognitoThrottledError("Cognito throttled: TooManyRequestsException"),
        ServiceUnavailableError("Cognito unreachable: ConnectTimeoutError"),
        TableUnavailableError("mirror write failed: ProvisionedThroughputExceededException"),
        cognito_mirror.MirrorUnavailableError("mirror read failed"),
    ],
)
def test_every_dependency_outage_is_caught_by_one_name(outage: Exception) -> None:
    # Given an outage of Cognito or DynamoDB / When it is raised
    with pytest.raises(DEPENDENCY_DOWN) as caught:
        raise outage
    # Then the one "dependency down" class catches it, its reason intact
    assert str(caught.value) == str(outage)


def test_a_cognito_outage_answers_as_the_librarys_503() -> None:
    # Given Cognito throttling in the functions layer
    outage = CognitoThrottledError("Cognito throttled: TooManyRequestsException")
    # When an HTTP API meets it / Then it is the library's 503 with Retry-After, no detail in the body
    assert isinstance(outage, cognito_mirror.MirrorUnavailableError)
    assert (outage.status_code, outage.msg) == (503, "Service temporarily unavailable")
    assert outage.headers["Retry-After"] == "1"
    assert outage.detail == "Cognito throttled: TooManyRequestsException"


def test_there_is_one_configuration_error() -> None:
    from models.settings import ConfigurationError

    # Given the settings' and the library's ConfigurationError / Then they are the same class
    assert ConfigurationError is cognito_mirror.ConfigurationError
