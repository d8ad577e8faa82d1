"""Both user pool modes package offline, lint clean, and ship small artifacts with only our code."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scripts.package_build import ROOT, PackagedStack, PackageError, osls_command, run_osls
from scripts.package_check import ARTIFACT_BUDGET_BYTES
from scripts.package_imports import handler_in_repository, python_functions, unresolved_imports
from scripts.package_lint import IGNORED_LINT_RULES, lint
from tests.support.deploy import FUNCTIONS

pytestmark = pytest.mark.deploy

HANDLER_FILES = {
    "postConfirmation": "functions/post_confirmation.py",
    "postAuthentication": "functions/post_authentication.py",
    "api": "functions/api.py",
    "attributeSync": "functions/attribute_sync.py",
    "reconcile": "functions/reconcile.py",
    "userEvents": "functions/user_events.py",
    "repairUser": "functions/repair_user.py",
    "directoryLayout": "functions/directory_layout.py",
    "groupMembers": "functions/group_members.py",
}
# Provided by the Lambda runtime, or not needed behind the JWT authorizer: never in an artifact.
EXCLUDED_TOP_LEVEL = {"boto3", "botocore", "s3transfer", "urllib3", "jwt", "cryptography", "tests", ".venv"}


def test_templates_lint_without_findings_beyond_framework_noise(
    stack: PackagedStack, checked: dict[str, dict[str, Any]]
) -> None:
    # Given a packaged mode
    # When both of its templates are linted with cfn-lint
    summary = checked[stack.mode]
    # Then nothing remains once the named framework-only warnings are set aside
    assert summary["lint_findings"] == []
    assert set(summary["lint_ignored"]) == set(IGNORED_LINT_RULES)


def test_lint_reports_a_broken_template(tmp_path: Path) -> None:
    # Given a template whose function references a role that does not exist
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "x.handler",
                    "Code": {"ZipFile": "x"},
                    "Role": {"Fn::GetAtt": ["MissingRole", "Arn"]},
                },
            }
        }
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    # When it is linted
    findings = lint(path)
    # Then an error is reported and not ignored
    assert any(finding.is_error and not finding.ignored for finding in findings)


def test_each_function_artifact_fits_the_budget(stack: PackagedStack) -> None:
    # Given the zipped artifact of every function
    # Then each exists and stays within 5 MB
    assert set(FUNCTIONS) <= set(stack.artifacts)
    assert {name: size for name, size in stack.artifacts.items() if size > ARTIFACT_BUDGET_BYTES} == {}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_artifact_holds_its_handler_and_no_runtime_packages(
    packaged: dict[str, PackagedStack], function: str
) -> None:
    # Given one function's artifact
    with zipfile.ZipFile(packaged["new"].directory / f"{function}.zip") as archive:
        names = set(archive.namelist())
    top_level = {name.split("/", 1)[0] for name in names}
    # Then it holds its handler (once its module exists), the shared code, the dependencies
    if (ROOT / HANDLER_FILES[function]).exists():
        assert HANDLER_FILES[function] in names
    assert {
        "models/table.py",
        "functions/common/trigger.py",
        "aws_lambda_powertools/__init__.py",
    } <= names
    assert "pynamodb/__init__.py" in names
    # and the reader library, which models/ takes the directory's key format from (no bytecode)
    assert "cognito_mirror/__init__.py" in names
    assert not [name for name in names if "__pycache__" in name]
    # and no other function's handler
    others = {path for key, path in HANDLER_FILES.items() if key != function}
    assert not names & others
    # and nothing the runtime already has (boto3/botocore) or this stack does not use
    assert not top_level & EXCLUDED_TOP_LEVEL
    assert not any("__pycache__" in name for name in names)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_artifact_provides_everything_its_handler_imports(stack: PackagedStack, function: str) -> None:
    # Given one function's handler module, followed through its first-party imports
    module = python_functions(stack)[function]
    if not handler_in_repository(module):
        pytest.skip(f"{module} is not in this checkout yet")
    # When its imports are resolved against the artifact, the standard library and the runtime
    missing = unresolved_imports(stack.directory / f"{function}.zip", module)
    # Then nothing is missing
    assert missing == set()


def test_import_check_reports_what_an_artifact_lacks(tmp_path: Path) -> None:
    # Given an artifact whose handler imports a sibling module it lacks, a dev-only package,
    # and a type-only import (never run)
    archive = tmp_path / "fn.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("functions/__init__.py", "")
        zipped.writestr(
            "functions/handler.py",
            "from typing import TYPE_CHECKING\n"
            "import tqdm\n"
            "from functions.common import helpers\n"
            "from models.settings import get_settings\n"
            "if TYPE_CHECKING:\n    import mypy_boto3_sqs\n",
        )
    # When its imports are resolved
    missing = unresolved_imports(archive, "functions.handler")
    # Then the absent modules are named, and the type-only import is not
    assert missing == {"tqdm", "functions.common", "models.settings"}


def test_local_stack_params_resolve_without_aws() -> None:
    # Given the params the local stack passes (cognito-local pool, stage dev)
    params = {
        "userPoolId": "local_pool1",
        "appClientId": "localclient1",
        "issuerUrl": "http://127.0.0.1:9229/local_pool1",
    }
    cmd = [
        "npx",
        "--no-install",
        "osls",
        "print",
        "--stage",
        "dev",
        "--format",
        "json",
        *(f"--param={name}={value}" for name, value in params.items()),
    ]
    # When osls resolves the configuration (no credentials, no network)
    output = run_osls(cmd)
    config = json.loads(output[output.index("{") :])
    # Then the authorizer and the functions get plain strings (serverless-offline needs them)
    authorizer = config["provider"]["httpApi"]["authorizers"]["cognitoJwt"]
    assert authorizer["issuerUrl"] == "http://127.0.0.1:9229/local_pool1"
    assert authorizer["audience"] in ("localclient1", ["localclient1"])
    assert config["functions"]["api"]["environment"]["USER_POOL_ID"] == "local_pool1"
    assert config["custom"]["serverless-offline"]["host"] == "127.0.0.1"
    # and the dev stage turns deletion protection off
    table = config["resources"]["Resources"]["MirrorTable"]["Properties"]
    assert table["DeletionProtectionEnabled"] is False


def test_existing_mode_without_app_client_fails_clearly() -> None:
    # Given an existing pool id but no app client id
    cmd = [*osls_command("new", command="print"), "--param=userPoolId=eu-west-1_Example01"]
    # When osls resolves the configuration
    # Then it refuses, naming the missing parameter
    with pytest.raises(PackageError, match="appClientId"):
        run_osls(cmd)
