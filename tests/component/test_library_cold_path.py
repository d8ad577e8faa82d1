"""cognito_mirror's cold path: what a fresh process loads for a read, and items read from the wire."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

import cognito_mirror
from cognito_mirror import Profile

LIBRARY = Path(cognito_mirror.__file__).parent

ITEMS: dict[str, dict[str, Any]] = {
    "full row": {
        "sub": {"S": "4a709188-f0b1-70c4-4d1e-8c2b0f2e9d11"},
        "username": {"S": "jane.doe"},
        "attributes": {"M": {"email": {"S": "jane@example.com"}, "custom:tenant": {"S": "acme"}}},
        "status": {"S": "CONFIRMED"},
        "enabled": {"BOOL": True},
        "observed_at": {"N": "1764547200123456"},
        "source": {"S": "post_confirmation"},
        "idx0": {"S": "email#3#jane@example.com"},
    },
    "disabled, non-string attribute values": {
        "sub": {"S": "u-2"},
        "username": {"S": "bob"},
        "attributes": {"M": {"email": {"S": "b@x.test"}, "odd": {"N": "1"}, "empty": {"NULL": True}}},
        "status": {"S": "FORCE_CHANGE_PASSWORD"},
        "enabled": {"BOOL": False},
        "observed_at": {"N": "1"},
    },
    "fields missing": {"sub": {"S": "u-3"}},
    "null fields": {
        "sub": {"S": "u-4"},
        "username": {"NULL": True},
        "attributes": {"NULL": True},
        "status": {"NULL": True},
        "enabled": {"NULL": True},
        "observed_at": {"NULL": True},
    },
}


@pytest.mark.parametrize("item", ITEMS.values(), ids=ITEMS.keys())
def test_an_item_read_from_the_wire_is_the_profile_of_the_deserialized_row(item: dict[str, Any]) -> None:
    # Given a mirror item as GetItem returns it, and the same item deserialized by boto3
    deserialize = TypeDeserializer().deserialize
    row = {name: deserialize(value) for name, value in item.items()}
    # When it is read straight from the wire format
    profile = Profile.from_item(item)
    # Then it is the profile the deserialized row gives
    assert profile == Profile.from_row(row)


# A read in a fresh process whose DynamoDB endpoint refuses connections (a 503, quickly).
_READ = (
    "import sys\n"
    "from cognito_mirror import MirrorReader, MirrorUnavailableError\n"
    "reader = MirrorReader('mirror', ddb_max_retries=0, ddb_connect_timeout=0.2)\n"
    "try:\n"
    "    reader.get('u-1')\n"
    "except MirrorUnavailableError:\n"
    "    print('unavailable', 'boto3' in sys.modules, 'jwt' in sys.modules)\n"
)


def _run(code: str) -> list[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
    }
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=LIBRARY.parent, check=True
    )
    assert out.stdout, out.stderr
    return out.stdout.split()


def test_a_first_read_loads_neither_boto3_nor_pyjwt() -> None:
    # Given a fresh process that has not imported boto3
    # When it reads a user through a client of the reader's own making
    words = _run(_READ)
    # Then the read went through botocore (a 503), and neither boto3 nor PyJWT was imported
    assert words == ["unavailable", "False", "False"]


def test_a_process_that_uses_boto3_shares_its_default_session_with_the_reader() -> None:
    # Given a fresh process that imported boto3 and made no session of its own yet
    code = "import boto3\n" + _READ + "print(boto3.DEFAULT_SESSION is not None)\n"
    # When it reads a user
    words = _run(code)
    # Then the reader's client came from boto3's default session (the user's clients share it)
    assert words == ["unavailable", "True", "False", "True"]
