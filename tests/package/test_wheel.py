"""The cognito_mirror wheel, installed in a fresh venv, serves a user's own Powertools handler.

The venv lives under .local/wheel-venv and is reused while the library's sources are unchanged.
The handler runs from a temporary folder (the repo is not on sys.path) against moto's server.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.package, pytest.mark.loopback]

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".local" / "wheel-venv"
PY = CACHE / "venv" / "bin" / "python"

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


def _sources_digest() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for path in sorted((ROOT / "cognito_mirror").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _build(dest: Path) -> Path:
    # Build from a copy holding the stack's packages too: the wheel must still take only cognito_mirror.
    tree = dest / "tree"
    for name in ("cognito_mirror", "functions", "models", "scripts"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dest), str(tree)],
        check=True,
    )
    (wheel,) = dest.glob("cognito_attribute_mirror-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    stamp = CACHE / "digest"
    if PY.exists() and stamp.exists() and stamp.read_text() == _sources_digest():
        return CACHE / "wheel.json"
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    wheel = _build(tmp_path_factory.mktemp("wheel"))
    names = zipfile.ZipFile(wheel).namelist()
    subprocess.run(["python3.11", "-m", "venv", "--without-pip", str(CACHE / "venv")], check=True)
    # The repo venv's pip installs into the fresh venv: the wheel and its deps from the registry.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(PY), "install", "--quiet", str(wheel)], check=True
    )
    (CACHE / "wheel.json").write_text(json.dumps(names))
    stamp.write_text(_sources_digest())
    return CACHE / "wheel.json"


def test_the_wheel_holds_only_the_library(wheel_venv: Path) -> None:
    # Given the built wheel's file list
    names = json.loads(wheel_venv.read_text())
    # Then every file is cognito_mirror/ or the wheel's metadata
    assert {name.split("/")[0] for name in names} == {
        "cognito_mirror",
        "cognito_attribute_mirror-0.1.0.dist-info",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def moto_server() -> Iterator[str]:
    port = _free_port()
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


def test_a_users_handler_answers_200_401_403_404_503(
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
        [str(PY), "-I", "user_handler.py"],
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
    assert [a["statusCode"] for a in answers] == [200, 401, 403, 404, 503]
    assert json.loads(answers[0]["body"]) == {"email": "u-live@x.test"}
    assert all("message" in json.loads(a["body"]) for a in answers[1:])
    assert answers[4]["headers"]["Retry-After"] == "1"
