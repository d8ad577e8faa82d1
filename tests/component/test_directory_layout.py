"""A reader or command whose MIRROR_INDEXED_ATTRIBUTES disagrees with the table's layout (another
order, a missing attribute) fails loudly at its first lookup instead of finding nobody; the stack
records the layout at deploy through its custom resource."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cognito_mirror import ConfigurationError, MirrorReader
from cognito_mirror.directory_layout import LAYOUT_SUB
from models.table import mirror_table
from models.user import UserSnapshot
from tests.support.fixtures import TABLE

TENANT = "custom:tenant"


def deploy_event(request_type: str = "Create") -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/presigned",
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/mirror/1",
        "RequestId": "r-1",
        "LogicalResourceId": "DirectoryLayout",
        "ResourceProperties": {"IndexedAttributes": "email,custom:tenant"},
    }


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the custom resource answers CloudFormation (its PUTs to the pre-signed URL)."""
    import urllib.request

    sent: list[dict[str, Any]] = []

    class Reply:
        def __enter__(self) -> Reply:
            return self

        def __exit__(self, *_: object) -> None:
            return None

    def urlopen(request: urllib.request.Request, timeout: float) -> Reply:
        assert request.get_method() == "PUT" and timeout > 0
        sent.append(json.loads(request.data))  # type: ignore[arg-type]
        return Reply()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return sent


def deploy(answers: list[dict[str, Any]], request_type: str = "Create") -> dict[str, Any]:
    from functions.directory_layout import handler
    from tests.support.helpers import FakeLambdaContext

    handler(deploy_event(request_type), FakeLambdaContext())
    return answers[-1]


def store(sub: str, **attributes: str) -> None:
    mirror_table().put_snapshot(
        UserSnapshot(sub, sub, attributes, "CONFIRMED", True, 1_764_000_000_000_000, "t")
    )


def reader(*indexed: str, calls: list[str] | None = None) -> MirrorReader:
    client = boto3.client("dynamodb")
    if calls is not None:
        client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    return MirrorReader(TABLE, dynamodb=client, indexed_attributes=indexed)


@pytest.fixture
def deployed(answers: list[dict[str, Any]]) -> None:
    """A stack deployed with the default layout (email, custom:tenant), and one user."""
    assert deploy(answers)["Status"] == "SUCCESS"
    store("ada", email="ada@example.com", email_verified="true", **{TENANT: "acme"})


def test_the_deploy_records_the_layout_and_answers_cloudformation(
    answers: list[dict[str, Any]], raw_item: Any
) -> None:
    # Given a deploy / When CloudFormation creates the layout resource
    answer = deploy(answers)
    # Then the record holds the ordered attributes, and CloudFormation hears SUCCESS for this request
    assert raw_item(LAYOUT_SUB)["indexed_attributes"] == {"S": "email,custom:tenant"}
    assert answer["Status"] == "SUCCESS"
    assert (answer["RequestId"], answer["LogicalResourceId"], answer["PhysicalResourceId"]) == (
        "r-1",
        "DirectoryLayout",
        LAYOUT_SUB,
    )


def test_a_deploy_with_an_unusable_setting_fails_with_its_reason(
    answers: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a setting the mirror refuses
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", "email,email")
    from tests.support.fixtures import reset_process_state

    reset_process_state()
    # When CloudFormation creates the resource / Then FAILED, with the setting's message
    answer = deploy(answers)
    assert answer["Status"] == "FAILED"
    assert "twice" in answer["Reason"]


def test_deleting_the_resource_answers_without_writing(answers: list[dict[str, Any]], raw_item: Any) -> None:
    assert deploy(answers, "Delete")["Status"] == "SUCCESS"
    assert raw_item(LAYOUT_SUB) is None


@pytest.mark.usefixtures("deployed")
@pytest.mark.parametrize(
    ("indexed", "attribute", "where"),
    [
        ((TENANT, "email"), "email", "in slot 0"),  # another order
        ((TENANT,), TENANT, "in slot 1"),  # a missing attribute shifts the slots
        (("phone_number",), "phone_number", "not at all"),  # an attribute the table does not index
    ],
)
def test_a_reader_configured_with_another_layout_fails_loudly(
    indexed: tuple[str, ...], attribute: str, where: str
) -> None:
    # Given a reader whose MIRROR_INDEXED_ATTRIBUTES disagrees with the table's
    # When it looks someone up
    # Then a configuration error names the table's layout, instead of an empty answer
    with pytest.raises(ConfigurationError) as raised:
        list(reader(*indexed).iter_users(attribute, "acme" if attribute == TENANT else "x"))
    assert where in raised.value.detail and "email,custom:tenant" in raised.value.detail
    assert "DirectoryIndexLayout" in raised.value.detail


@pytest.mark.usefixtures("deployed")
def test_a_reader_that_agrees_reads_the_record_once() -> None:
    # Given a reader with the stack's layout, or its first slot only
    calls: list[str] = []
    full, prefix = reader("email", TENANT, calls=calls), reader("email")
    # When it looks up twice
    assert [p.sub for p in full.find_by_email("ada@example.com")] == ["ada"]
    assert [p.sub for p in full.iter_users(TENANT, "acme")] == ["ada"]
    # Then it finds the user, and read the layout record once
    assert calls.count("GetItem") == 1
    assert [p.sub for p in prefix.find_by_email("ada@example.com")] == ["ada"]


def test_a_table_without_a_record_is_not_checked() -> None:
    # Given a table deployed before the record existed / When a reader of another order looks up
    store("ada", email="ada@example.com", email_verified="true")
    # Then it reads its slot as configured (nothing to check against)
    assert list(reader(TENANT, "email").iter_users("email", "ada@example.com")) == []


@pytest.mark.usefixtures("deployed")
def test_the_command_with_another_layout_cannot_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from functions.directory import EXIT_CANNOT_RUN, main

    # Given an operator's environment with the slots in another order
    monkeypatch.setenv("MIRROR_INDEXED_ATTRIBUTES", f"{TENANT},email")
    # When they look an address up / Then exit 4 and one line naming the table's layout
    assert main(["--table", TABLE, "--find-email", "ada@example.com"]) == EXIT_CANNOT_RUN
    err = capsys.readouterr().err
    assert "email,custom:tenant" in err and len(err.splitlines()) == 1
