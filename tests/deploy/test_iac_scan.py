"""An independent IaC scanner (checkov) finds nothing in either packaged template; every check the
template skips says why, and the scanner works offline."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from scripts.package_build import PackagedStack
from scripts.package_lint import scan

pytestmark = pytest.mark.deploy


def test_checkov_fails_no_check_on_either_pool_mode(
    stack: PackagedStack, checked: dict[str, dict[str, Any]]
) -> None:
    # Given the packaged template of a mode
    # When checkov scans it (as `make package` does)
    scanned = checked[stack.mode]["checkov"]
    # Then no check fails, and the scan did run checks
    assert scanned["failed"] == []
    assert scanned["passed"] > 50


def test_every_skipped_check_gives_its_reason(stack: PackagedStack) -> None:
    # Given every checkov skip written into the template's resources
    skips = [
        (name, skip)
        for name, resource in stack.template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    # Then there are some, and each names a check and says why it does not apply
    assert skips
    for name, skip in skips:
        assert skip["id"].startswith("CKV_AWS_"), name
        assert len(skip.get("comment", "")) > 20, f"{name} skips {skip['id']} without a reason"


def test_scan_reports_an_unencrypted_queue_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a template with a queue stored unencrypted, and no network (a proxy that refuses)
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}}}}
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    # When checkov scans it
    started = time.monotonic()
    scanned = scan(path)
    # Then the unencrypted queue is reported, without waiting on the network
    assert "CKV_AWS_27 AWS::SQS::Queue.Queue" in scanned.failed
    assert time.monotonic() - started < 120
