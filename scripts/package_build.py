"""`osls package` offline for each user pool mode: the CloudFormation templates and the zipped artifacts.

No AWS account is needed: serverless-python-requirements downloads Lambda wheels from PyPI, then
caches them under .local/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Not under .serverless: the framework copies .serverless into the package folder.
DEFAULT_OUT = ROOT / ".local" / "package"
STAGE = "ci"
REGION = "eu-west-1"
PACKAGE_TIMEOUT_SECONDS = 600

# Serverless params per user pool mode (scripts/serverless_user_pool.js): an empty userPoolId
# creates a pool; a pool id attaches the stack to it. The existing pool here is an example.
MODES: dict[str, dict[str, str]] = {
    "new": {},
    "existing": {
        "userPoolId": "eu-west-1_Example01",
        "userPoolName": "example-pool",
        "appClientId": "exampleclientid0000000000a,exampleclientid0000000000b",
    },
}


class PackageError(RuntimeError):
    """`osls package` (or the scanner) failed; the message carries the tail of its output."""


@dataclass
class PackagedStack:
    mode: str
    directory: Path
    template: dict[str, Any]
    artifacts: dict[str, int] = field(default_factory=dict)

    @property
    def template_path(self) -> Path:
        return self.directory / "cloudformation-template-update-stack.json"

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return {key: value for key, value in resources.items() if value["Type"] == resource_type}


def osls_command(
    mode: str, *, command: str = "package", stage: str = STAGE, region: str = REGION
) -> list[str]:
    """The `npx osls` command line for a mode (params as `--param=name=value`)."""
    cmd = ["npx", "--no-install", "osls", command, "--stage", stage, "--region", region]
    cmd += [f"--param={name}={value}" for name, value in MODES[mode].items()]
    return cmd


def _osls_env() -> dict[str, str]:
    env = dict(os.environ)
    # pip for serverless-python-requirements: this interpreter's (it has pip; wheels are chosen
    # for the Lambda platform by the pip arguments in serverless.yml, not by this interpreter).
    env.setdefault("MIRROR_PYTHON_BIN", sys.executable)
    env["SLS_TELEMETRY_DISABLED"] = "1"
    env["SLS_NOTIFICATIONS_MODE"] = "off"
    return env


def run_osls(cmd: list[str]) -> str:
    """Run an osls command in the repository; its combined output, or PackageError."""
    try:
        done = subprocess.run(
            cmd,
            cwd=ROOT,
            env=_osls_env(),
            capture_output=True,
            text=True,
            timeout=PACKAGE_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError as exc:
        raise PackageError("npx not found: install Node 20 and run `make setup-node`") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        raise PackageError(f"{' '.join(cmd[:4])} failed (exit {done.returncode}):\n{tail}")
    return output


def artifact_sizes(directory: Path) -> dict[str, int]:
    """Zipped size in bytes of each function's artifact, by function key."""
    return {path.stem: path.stat().st_size for path in sorted(directory.glob("*.zip"))}


def package(
    mode: str, out_dir: Path = DEFAULT_OUT, *, stage: str = STAGE, region: str = REGION
) -> PackagedStack:
    """`osls package` for one mode into out_dir/<mode>; the parsed template and artifact sizes."""
    directory = out_dir / mode
    shutil.rmtree(directory, ignore_errors=True)
    directory.parent.mkdir(parents=True, exist_ok=True)
    run_osls([*osls_command(mode, stage=stage, region=region), "--package", str(directory)])
    stack = PackagedStack(mode=mode, directory=directory, template={})
    stack.template = json.loads(stack.template_path.read_text(encoding="utf-8"))
    stack.artifacts = artifact_sizes(directory)
    return stack
