"""What GET /me runs: a hit loads none of the write side; a miss healed in-process stays a short path
(DESIGN.md, Reads)."""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.helpers import FakeLambdaContext, http_event, load_event

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("functions", "models", "cognito_mirror", "scripts")
# The Cognito adapter, the table's write path and PynamoDB (the repair use case imports them on its
# first call; the API's reader is built with it).
WRITE_SIDE = (
    "functions.common.cognito",
    "models.table",
    "models.record",
    "pynamodb",
)
# The files of a GET /me miss healed in-process, today; fewer is better, more is a regression.
MISS_PATH_FILES = 12

_HIT = """
import json, sys
import boto3
from moto import mock_aws
with mock_aws():
    ddb = boto3.client("dynamodb")
    ddb.create_table(TableName="mirror-test", KeySchema=[{"AttributeName": "sub", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "sub", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    event = json.loads(sys.argv[1])
    sub = event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    ddb.put_item(TableName="mirror-test", Item={"sub": {"S": sub}, "username": {"S": "jane.doe"},
        "attributes": {"M": {}}, "status": {"S": "CONFIRMED"}, "enabled": {"BOOL": True},
        "observed_at": {"N": "1764547200123456"}})
    from functions import api
    from tests.support.helpers import FakeLambdaContext
    status = api.handler(event, FakeLambdaContext())["statusCode"]
    loaded = sorted(name for name in sys.modules if name.split(".")[0] == "pynamodb" or name in sys.argv[2:])
    print("ANSWER", status, *loaded)
"""


def test_a_get_me_hit_loads_none_of_the_write_side() -> None:
    # Given a fresh API process whose caller is in the mirror (and a pool to repair from)
    env = {
        **os.environ,
        "MIRROR_TABLE": "mirror-test",
        "USER_POOL_ID": "eu-west-1_EXAMPLE",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONPATH": str(ROOT),
    }
    env = {name: value for name, value in env.items() if not name.startswith("AWS_ENDPOINT_URL")}
    # When it answers one GET /me
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _HIT, json.dumps(load_event("apigw_http_get_me")), *WRITE_SIDE],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    answer = [line.split()[1:] for line in out.stdout.splitlines() if line.startswith("ANSWER")]
    # Then the profile was served, and no write-side module was imported
    assert answer == [["200"]], out.stderr[-2000:]


def _project_files(profiler: cProfile.Profile) -> set[str]:
    files = set()
    for filename, _, _ in pstats.Stats(profiler).stats:  # type: ignore[attr-defined]
        path = Path(filename)
        if path.is_relative_to(ROOT) and path.relative_to(ROOT).parts[0] in PROJECT:
            files.add(str(path.relative_to(ROOT)))
    return files


def test_a_get_me_miss_healed_in_process_runs_a_short_path(cognito: Any) -> None:
    from functions import api

    claims = load_event("apigw_http_get_me")["requestContext"]["authorizer"]["jwt"]["claims"]
    first, second = (cognito.create_user(name, email=f"{name}@example.com") for name in ("ann", "bob"))
    api.handler(http_event("/me", claims={**claims, "sub": first, "username": "ann"}), FakeLambdaContext())
    # Given a warm API and a caller who is in Cognito but not in the mirror
    profiler = cProfile.Profile()
    # When they read /me (profiled)
    profiler.enable()
    answer = api.handler(
        http_event("/me", claims={**claims, "sub": second, "username": "bob"}), FakeLambdaContext()
    )
    profiler.disable()
    # Then the repaired profile is served, through no more project files than the path needs
    assert answer["statusCode"] == 200
    files = _project_files(profiler)
    assert len(files) <= MISS_PATH_FILES, sorted(files)
