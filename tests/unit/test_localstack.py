"""The local stack (scripts/stack.py) without starting anything or opening a socket: ports, config."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import offline
from scripts.dynamodb_local import LocalServiceError
from scripts.ports import Ports
from scripts.stack import LocalStack, cognito_local_config
from scripts.stack_info import StackInfo


def test_ports_default_to_the_documented_ones():
    # Given no port variables / When the ports are read / Then the defaults apply
    assert Ports.from_env({}) == Ports(
        dynamodb=8000, cognito=9229, http=3000, lambda_=3002, consumer_http=3100, consumer_lambda=3102
    )


def test_each_port_is_overridable_by_its_variable():
    env = {
        "MIRROR_DYNAMODB_PORT": "13000",
        "MIRROR_COGNITO_PORT": "13001",
        "MIRROR_HTTP_PORT": "13002",
        "MIRROR_LAMBDA_PORT": "13003",
        "MIRROR_CONSUMER_HTTP_PORT": "13004",
        "MIRROR_CONSUMER_LAMBDA_PORT": "13005",
    }
    assert Ports.from_env(env) == Ports(13000, 13001, 13002, 13003, 13004, 13005)


@pytest.mark.parametrize("value", ["http", "0", "70000", "-1"])
def test_a_malformed_port_is_one_clear_error(value: str):
    with pytest.raises(LocalServiceError, match="MIRROR_HTTP_PORT must be a port number"):
        Ports.from_env({"MIRROR_HTTP_PORT": value})


def test_a_malformed_port_range_is_one_clear_error():
    with pytest.raises(LocalServiceError, match="MIRROR_PORT_RANGE"):
        Ports.free({"MIRROR_PORT_RANGE": "13999-13000"})


def test_cognito_local_sends_triggers_to_the_lambda_port_and_issues_for_its_own():
    # Given ports / When the config is built
    config = cognito_local_config(Ports(1, 2, 3, 4))
    # Then triggers go to serverless-offline's Lambda API and tokens name cognito-local as issuer
    assert config["LambdaClient"]["endpoint"] == "http://127.0.0.1:4"
    assert config["TokenConfig"]["IssuerDomain"] == "http://127.0.0.1:2"
    assert config["ServerConfig"] == {"hostname": "127.0.0.1", "port": 2}


def test_serverless_offline_gets_the_pool_client_and_issuer_as_params(tmp_path: Path):
    # Given a stack whose pool exists
    stack = LocalStack(ports=Ports(1, 2, 3, 4), state_dir=tmp_path)
    info = StackInfo(stack.ports, "local", "eu-west-1", stack.table, "local_abc", "client1", tmp_path)
    # When the serverless-offline command line is built
    argv = offline.mirror_argv(info, stack.offline_params)
    # Then the JWT authorizer and the functions are configured for this pool
    assert "--param=issuerUrl=http://127.0.0.1:2/local_abc" in argv
    assert "--param=appClientId=client1" in argv
    assert "--param=userPoolId=local_abc" in argv
    assert offline.mirror_env(info)["MIRROR_LAMBDA_PORT"] == "4"


def test_the_consumer_gets_plain_mirror_values_its_own_ports_and_only_the_library_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack whose pool exists, run from a shell with the repository on PYTHONPATH
    monkeypatch.setenv("PYTHONPATH", "/repo")
    monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "http://elsewhere")
    stack = LocalStack(ports=Ports(1, 2, 3, 4, 5, 6), state_dir=tmp_path)
    info = StackInfo(stack.ports, "local", "eu-west-1", stack.table, "local_abc", "client1", tmp_path)
    # When the consumer's serverless-offline command line and environment are built
    argv = offline.consumer_argv(info, stack.offline_params)
    env = offline.consumer_env(info, tmp_path / "venv")
    # Then it serves on its own ports, with the table and the mirror's repair function as plain params
    assert argv[argv.index("--httpPort") + 1] == "5"
    assert argv[argv.index("--lambdaPort") + 1] == "6"
    assert "--param=mirrorTable=cognito-mirror-local-users" in argv
    assert "--param=mirrorRepairFunction=cognito-mirror-local-repairUser" in argv
    assert "--param=issuerUrl=http://127.0.0.1:2/local_abc" in argv
    # And its Python is the library venv's, without the repository, reaching only DynamoDB and Lambda
    assert env["PATH"].startswith(f"{tmp_path / 'venv' / 'bin'}:")
    assert "PYTHONPATH" not in env
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == "http://127.0.0.1:4"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:1"
    assert "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER" not in env
