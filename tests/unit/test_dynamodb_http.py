"""The botocore-free DynamoDB client: its signature is botocore's, when it is chosen, its errors.

botocore is the reference here: the same request, credentials and time signed by botocore's
SigV4Auth, the same error body parsed by botocore's JSON parser.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.parsers import create_parser

from cognito_mirror import MirrorReader
from cognito_mirror._aws import client_errors, error_code, http_endpoint
from cognito_mirror._dynamodb_http import (
    CONTENT_TYPE,
    Credentials,
    ServiceError,
    credentials_from_env,
    error_response,
    signed_headers,
)
from cognito_mirror._errors import ConfigurationError

NO_SHAPE: Any = None  # an error answer is parsed without the operation's output shape
NOW = datetime(2026, 12, 2, 1, 23, 45, tzinfo=UTC)
GET_ITEM = json.dumps({"TableName": "mirror", "Key": {"sub": {"S": "6f1c0b9e-4a1e"}}}).encode()
QUERY = json.dumps(
    {
        "TableName": "mirror",
        "IndexName": "directory-0",
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": "dir0"},
        "ExpressionAttributeValues": {":v": {"S": "email#ada@example.com#3"}},
        "Limit": 500,
    }
).encode()
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "consumer-dev-hello",
    "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret/example+key",
    "AWS_SESSION_TOKEN": "token",
}
AWS_ENV_NAMES = (
    "MIRROR_READER_HTTP",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    *LAMBDA_ENV,
)


def botocore_signed(url: str, region: str, target: str, body: bytes, creds: Credentials) -> dict[str, str]:
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": target}
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4Auth(
            BotoCredentials(creds.access_key, creds.secret_key, creds.token), "dynamodb", region
        ).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


@pytest.mark.parametrize(
    ("url", "host", "region", "target", "body", "token"),
    [
        ("https://dynamodb.eu-west-1.amazonaws.com/", "dynamodb.eu-west-1.amazonaws.com", "eu-west-1",
         "DynamoDB_20120810.GetItem", GET_ITEM, "IQoJb3JpZ2luX2VjE//session+token="),
        ("https://dynamodb.eu-west-1.amazonaws.com/", "dynamodb.eu-west-1.amazonaws.com", "eu-west-1",
         "DynamoDB_20120810.GetItem", GET_ITEM, None),
        ("https://dynamodb.cn-north-1.amazonaws.com.cn/", "dynamodb.cn-north-1.amazonaws.com.cn",
         "cn-north-1", "DynamoDB_20120810.Query", QUERY, "t"),
        ("http://127.0.0.1:8000/", "127.0.0.1:8000", "us-east-1", "DynamoDB_20120810.Query", QUERY, None),
        ("https://dynamodb.ap-southeast-2.amazonaws.com/", "dynamodb.ap-southeast-2.amazonaws.com",
         "ap-southeast-2", "DynamoDB_20120810.GetItem", b"{}", None),
    ],
)  # fmt: skip
def test_the_signature_is_the_one_botocore_computes(
    url: str, host: str, region: str, target: str, body: bytes, token: str | None
) -> None:
    # Given a request, credentials (with or without a session token) and a fixed time
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    # When both sign it
    ours = signed_headers(host, region, target, body, creds, NOW)
    theirs = botocore_signed(url, region, target, body, creds)
    # Then the Authorization header and every signed header are the same
    assert ours["authorization"] == theirs["authorization"]
    assert ours["x-amz-date"] == theirs["x-amz-date"] == "20261202T012345Z"
    assert ours.get("x-amz-security-token") == theirs.get("x-amz-security-token") == token
    signed = ours["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "host" in signed and "x-amz-target" in signed
    assert all(ours[name] == theirs.get(name, host if name == "host" else None) for name in signed)


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AWS_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in LAMBDA_ENV.items():
        monkeypatch.setenv(name, value)


def test_inside_lambda_the_reader_calls_the_regional_endpoint_itself(lambda_env: None) -> None:
    # Given Lambda's environment / When the endpoint is chosen / Then it is the region's own
    assert http_endpoint("eu-west-1") == "https://dynamodb.eu-west-1.amazonaws.com"
    assert http_endpoint("cn-northwest-1") == "https://dynamodb.cn-northwest-1.amazonaws.com.cn"
    assert http_endpoint("us-gov-west-1") == "https://dynamodb.us-gov-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS_LAMBDA_FUNCTION_NAME", None),
        ("AWS_ACCESS_KEY_ID", None),
        ("AWS_SECRET_ACCESS_KEY", None),
        ("MIRROR_READER_HTTP", "botocore"),
        ("MIRROR_READER_HTTP", "BotoCore"),
        ("AWS_USE_FIPS_ENDPOINT", "true"),
        ("AWS_USE_DUALSTACK_ENDPOINT", "TRUE"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "https://proxy.example.com/dynamodb"),
    ],
)
def test_each_condition_hands_the_read_back_to_botocore(
    lambda_env: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str | None
) -> None:
    # Given Lambda's environment with one condition flipped
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
    # When the endpoint is chosen / Then botocore reads
    assert http_endpoint("eu-west-1") is None


@pytest.mark.parametrize("region", [None, "us-iso-east-1", "us-isob-east-1", "eusc-de-east-1", "local"])
def test_a_region_outside_the_plain_partitions_is_left_to_botocore(
    lambda_env: None, region: str | None
) -> None:
    assert http_endpoint(region) is None


def test_an_explicit_endpoint_is_called_as_configured_unless_ignored(
    lambda_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a general and a DynamoDB endpoint URL
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    # When / Then the general one serves DynamoDB until DynamoDB's own is set
    assert http_endpoint("local") == "http://127.0.0.1:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000/")
    assert http_endpoint("eu-west-1") == "http://127.0.0.1:8000/"
    # And with configured endpoints ignored, the regional one
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert http_endpoint("eu-west-1") == "https://dynamodb.eu-west-1.amazonaws.com"


def test_a_bad_opt_out_value_is_a_configuration_error(
    lambda_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIRROR_READER_HTTP", "requests")
    with pytest.raises(ConfigurationError, match="MIRROR_READER_HTTP must be one of auto, botocore"):
        http_endpoint("eu-west-1")


def test_credentials_are_read_from_the_environment_at_each_request(
    lambda_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert credentials_from_env() == Credentials("ASIAEXAMPLE", "secret/example+key", "token")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAROTATED")
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    assert credentials_from_env() == Credentials("ASIAROTATED", "secret/example+key", None)


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (400, {"x-amzn-requestid": "R1"},
         b'{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",'
         b'"message":"Requested resource not found"}'),
        (400, {}, b'{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"not authorized"}'),
        (400, {}, b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
                  b'"message":"Rate exceeded"}'),
        (400, {}, b'{"__type":"com.amazon.coral.service#UnrecognizedClientException:http://internal",'
                  b'"message":"The security token included in the request is invalid."}'),
        (500, {}, b'{"__type":"com.amazon.coral.availability#InternalServerError"}'),
        (503, {}, b"<html>Service Unavailable</html>"),
        (502, {}, b""),
        (400, {}, b"Bad request from a proxy"),
    ],
)  # fmt: skip
def test_an_error_answer_gives_the_code_and_message_botocore_gives(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    # Given an error answer of DynamoDB
    theirs = create_parser("json").parse({"status_code": status, "headers": headers, "body": body}, NO_SHAPE)
    # When both parse it
    ours = error_response(status, headers, body)
    # Then the code, message and request id agree, and error_code reads the code from our error
    assert ours["Error"] == theirs["Error"]
    assert ours["ResponseMetadata"].get("RequestId") == theirs["ResponseMetadata"].get("RequestId")
    assert error_code(ServiceError("GetItem", ours)) == theirs["Error"]["Code"]


def test_the_clients_errors_are_caught_without_importing_botocore() -> None:
    # Given both clients' modules loaded (botocore is, in this test process)
    from botocore.exceptions import BotoCoreError, ClientError

    import cognito_mirror._dynamodb_http as http

    # When the reader asks what to catch / Then both clients' errors
    assert set(client_errors()) == {BotoCoreError, ClientError, http.DynamoDBHttpError}
    assert issubclass(http.ReadTimeoutError, client_errors())


def test_a_bad_opt_out_value_fails_when_the_reader_is_built(
    lambda_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a misspelt opt-out / When the reader is built from the environment (cold start)
    monkeypatch.setenv("MIRROR_TABLE", "mirror")
    monkeypatch.setenv("MIRROR_READER_HTTP", "boto")
    # Then the deployment fault shows there, before any request
    with pytest.raises(ConfigurationError, match="MIRROR_READER_HTTP"):
        MirrorReader.from_env()


def test_x_amz_retry_after_raises_the_pause_by_at_most_five_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    from cognito_mirror import _retries

    # Given no jitter (the drawn factor is 0)
    monkeypatch.setattr(_retries.random, "random", lambda: 0.0)
    # When DynamoDB asks for 2 s, 9 s, or sends no usable header
    # Then the pause is what it asks within 5 s of the computed one (botocore's rule)
    assert _retries.backoff_seconds(1, False, "2000") == 2.0
    assert _retries.backoff_seconds(1, False, "9000") == 5.0
    assert _retries.backoff_seconds(1, True, "soon") == 0.0
    assert _retries.backoff_seconds(1, True, None) == 0.0
