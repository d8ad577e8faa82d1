"""The cognito_mirror wheel, installed in a fresh venv, serves a user's own Powertools handler.

The venv (scripts/library_venv.py, the one the local stack's example consumer runs on) lives under
.local/library-venv and is reused while the library's sources are unchanged.
The handler runs from a temporary folder (the repo is not on sys.path) against moto's server.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.library_venv import library_venv, library_wheel
from tests.support.loopback import free_port

pytestmark = [pytest.mark.package, pytest.mark.loopback]

ROOT = Path(__file__).resolve().parents[2]

USER_HANDLER = """
import json, sys
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from cognito_mirror import caller_profile, profile_middleware

app = APIGatewayHttpResolver()
app.use(middlewares=[profile_middleware])


@app.get("/me")
def me():
    return {"email": caller_profile(app).attributes["email"]}


for line in sys.stdin:
    print(json.dumps(app.resolve(json.loads(line), None)), flush=True)
"""


@pytest.fixture(scope="module")
def wheel_venv() -> Path:
    """A fresh venv with only the wheel built from this checkout (which also holds functions/, models/,
    scripts/: the wheel must still take only cognito_mirror) and its dependencies."""
    return library_venv()


def test_the_wheel_holds_only_the_library(wheel_venv: Path) -> None:
    # Given the built wheel's file list
    names = zipfile.ZipFile(library_wheel(wheel_venv)).namelist()
    # Then every file is cognito_mirror/ or the wheel's metadata
    assert {name.split("/")[0] for name in names} == {
        "cognito_mirror",
        "cognito_attribute_mirror-0.1.0.dist-info",
    }


@pytest.fixture
def moto_server() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _event(claims: dict[str, str] | None) -> dict[str, object]:
    context: dict[str, object] = {"http": {"method": "GET", "path": "/me"}, "stage": "$default"}
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims}}
    return {
        "version": "2.0",
        "routeKey": "GET /me",
        "rawPath": "/me",
        "headers": {},
        "requestContext": context,
    }


def test_a_users_handler_answers_200_401_403_404_500(
    wheel_venv: Path, moto_server: str, tmp_path: Path
) -> None:
    import boto3

    # Given a mirror table on moto's server with a live and a disabled user
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": moto_server,
        "MIRROR_TABLE": "mirror",
        "MIRROR_DDB_MAX_RETRIES": "0",
    }
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=moto_server,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ddb.create_table(
        TableName="mirror",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "sub", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "sub", "AttributeType": "S"}],
    )
    for sub, enabled in (("u-live", True), ("u-off", False)):
        ddb.put_item(
            TableName="mirror",
            Item={
                "sub": {"S": sub},
                "username": {"S": sub},
                "attributes": {"M": {"email": {"S": f"{sub}@x.test"}}},
                "status": {"S": "CONFIRMED"},
                "enabled": {"BOOL": enabled},
                "observed_at": {"N": "1"},
                "source": {"S": "backfill"},
                "deleted": {"BOOL": False},
            },
        )
    (tmp_path / "user_handler.py").write_text(USER_HANDLER)
    cases = {
        200: {"sub": "u-live", "token_use": "access"},
        401: None,
        403: {"sub": "u-off", "token_use": "access"},
        404: {"sub": "u-gone", "token_use": "access"},
    }
    # When the user's handler (outside the repo) serves those callers, then one with the table gone
    lines = "".join(json.dumps(_event(claims)) + "\n" for claims in cases.values())
    proc = subprocess.Popen(
        [str(wheel_venv / "bin" / "python"), "-I", "user_handler.py"],
        cwd=tmp_path,
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(lines)
    proc.stdin.flush()
    answers = [json.loads(proc.stdout.readline()) for _ in cases]
    ddb.delete_table(TableName="mirror")
    proc.stdin.write(json.dumps(_event({"sub": "u-new", "token_use": "access"})) + "\n")
    proc.stdin.close()
    answers.append(json.loads(proc.stdout.readline()))
    proc.wait(timeout=20)
    # Then each gets its status with a JSON message (200: the profile)
    assert [a["statusCode"] for a in answers] == [200, 401, 403, 404, 500]
    assert json.loads(answers[0]["body"]) == {"email": "u-live@x.test"}
    assert all("message" in json.loads(a["body"]) for a in answers[1:])
    # (the table gone is the deployment's fault: no Retry-After, no retry can fix it)
    assert "Retry-After" not in answers[4]["headers"]
