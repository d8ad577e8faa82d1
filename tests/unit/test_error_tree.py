"""The stack's errors are plain exceptions in one tree (models/errors.py, functions/common/errors.py):
"a dependency is down" is one class, and no data-layer error is an HTTP answer."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from botocore.exceptions import EndpointConnectionError

import cognito_mirror
from functions.common.errors import CognitoThrottledError, CognitoUnavailableError
from models.errors import DependencyUnavailableError, TableUnavailableError

OUTAGES = [
    CognitoThrottledError("Cognito throttled: TooManyRequestsException"),
    CognitoUnavailableError("Cognito unreachable: ConnectTimeoutError"),
    TableUnavailableError("mirror write failed: ProvisionedThroughputExceededException"),
]


@pytest.mark.parametrize("outage", OUTAGES)
def test_every_dependency_outage_is_caught_by_one_name(outage: Exception) -> None:
    # Given an outage of Cognito or DynamoDB / When it is raised
    with pytest.raises(DependencyUnavailableError) as caught:
        raise outage
    # Then the one "dependency down" class catches it, its reason intact
    assert str(caught.value) == str(outage)


@pytest.mark.parametrize("outage", OUTAGES)
def test_a_dependency_outage_is_a_plain_error_not_an_http_answer(outage: Exception) -> None:
    # Given an outage raised below the handlers / Then no HTTP status rides on it
    assert not isinstance(outage, ServiceError)
    assert not isinstance(outage, cognito_mirror.MirrorError)
    assert not hasattr(outage, "status_code")


def test_a_table_outage_carries_its_cause() -> None:
    # Given DynamoDB unreachable, wrapped by the data layer
    cause = EndpointConnectionError(endpoint_url="http://dynamodb")
    try:
        raise TableUnavailableError("mirror read failed: EndpointConnectionError") from cause
    except TableUnavailableError as exc:
        caught = exc
    # Then the botocore error is its cause
    assert caught.cause is cause


def test_there_is_one_configuration_error() -> None:
    from models.settings import ConfigurationError

    # Given the settings' and the library's ConfigurationError / Then they are the same class
    assert ConfigurationError is cognito_mirror.ConfigurationError
