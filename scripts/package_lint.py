"""Linting a packaged template: cfn-lint, and checkov, the independent IaC scanner (offline)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scripts.package_build import REGION, ROOT, PackageError

# checkov, the independent IaC scanner, in its own venv (`make setup-checkov`): its pins clash with ours.
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SCAN_TIMEOUT_SECONDS = 300

# cfn-lint findings caused by the framework's generated resources, not by serverless.yml.
IGNORED_LINT_RULES: dict[str, str] = {
    "W3005": (
        "the framework adds DependsOn for resources it also references with Ref/GetAtt (function -> "
        "role and log group, pool -> trigger function, route -> integration): redundant, harmless"
    ),
}


@dataclass(frozen=True)
class LintFinding:
    rule: str
    message: str
    location: str

    @property
    def ignored(self) -> bool:
        return self.rule in IGNORED_LINT_RULES

    @property
    def is_error(self) -> bool:
        return self.rule.startswith("E")


@dataclass(frozen=True)
class ScanResult:
    """checkov's verdict on one template: counts, and each failed check as `ID resource`."""

    passed: int
    skipped: int
    failed: list[str]


def lint(template_path: Path, region: str = REGION) -> list[LintFinding]:
    """Every cfn-lint finding on a template (ignored ones included, marked by `.ignored`)."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(template_path, config=ManualArgs(regions=[region]))
    return [
        LintFinding(
            rule=match.rule.id, message=match.message, location=f"{match.filename}:{match.linenumber}"
        )
        for match in matches
    ]


def _scan_env() -> dict[str, str]:
    """Offline: no platform key (nothing is uploaded or downloaded), no telemetry."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BC_", "PRISMA_"))}
    env["CHECKOV_RUN_SCA_PACKAGE_SCAN_V2"] = "false"
    env["BC_SKIP_MAPPING"] = "TRUE"
    return env


def scan(template_path: Path) -> ScanResult:
    """Run checkov on a template, offline (`--skip-download`, no API key); its passed/failed checks.
    Suppressions live in the template (`Metadata.checkov.skip`, each with a reason)."""
    if not CHECKOV.exists():
        raise PackageError(f"checkov not found at {CHECKOV}: run `make setup-checkov`")
    cmd = [
        str(CHECKOV),
        "--file",
        str(template_path),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--output",
        "json",
    ]
    try:
        done = subprocess.run(
            cmd, env=_scan_env(), capture_output=True, text=True, timeout=SCAN_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PackageError(f"checkov did not finish within {SCAN_TIMEOUT_SECONDS} s") from exc
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise PackageError(f"checkov failed (exit {done.returncode}):\n{tail}") from exc
    results = report.get("results", {}) if isinstance(report, dict) else {}
    return ScanResult(
        passed=len(results.get("passed_checks", [])),
        skipped=len(results.get("skipped_checks", [])),
        failed=sorted(
            f"{check['check_id']} {check['resource']}" for check in results.get("failed_checks", [])
        ),
    )
