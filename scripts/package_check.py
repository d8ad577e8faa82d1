"""Package the stack offline for each user pool mode, lint each template and report artifact sizes.

    python -m scripts.package_check                 # both modes, stage ci, eu-west-1
    python -m scripts.package_check --mode existing --json

No AWS account is needed: `npx osls package` builds the CloudFormation templates and the zips
(serverless-python-requirements downloads Lambda wheels from PyPI, then caches them under .local/).
Exit 0 when every mode packages, lints without errors and fits the artifact budget.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Set
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Not under .serverless: the framework copies .serverless into the package folder.
DEFAULT_OUT = ROOT / ".local" / "package"
STAGE = "ci"
REGION = "eu-west-1"
ARTIFACT_BUDGET_BYTES = 5 * 1024 * 1024
PACKAGE_TIMEOUT_SECONDS = 600
# checkov, the independent IaC scanner, in its own venv (`make setup-checkov`): its pins clash with ours.
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SCAN_TIMEOUT_SECONDS = 300

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

# cfn-lint findings caused by the framework's generated resources, not by serverless.yml.
IGNORED_LINT_RULES: dict[str, str] = {
    "W3005": (
        "the framework adds DependsOn for resources it also references with Ref/GetAtt (function -> "
        "role and log group, pool -> trigger function, route -> integration): redundant, harmless"
    ),
}


# The only IAM grants with a wildcard action or resource allowed in a generated template, by
# (role, action): each is required by AWS or by a name this stack cannot know (see serverless.yml).
ALLOWED_WILDCARDS: dict[tuple[str, str], str] = {
    ("IamRoleCustomResourcesLambdaExecution", "cognito-idp:ListUserPools"): (
        "ListUserPools has no resource-level permissions; the framework finds an existing pool by name"
    ),
    ("IamRoleCustomResourcesLambdaExecution", "iam:PassRole"): (
        "UpdateUserPool re-sends the existing pool's SMS role (unknown name); only to cognito-idp"
    ),
}
# Log streams of one named log group: `...:log-group:<name>:*` (and `:*:*` for PutLogEvents).
_LOG_STREAM_SUFFIXES = (":*", ":*:*")


# Importable in the Lambda runtime without being packaged (besides the standard library).
RUNTIME_MODULES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"})
# Left out on purpose (noDeploy in serverless.yml): imported only where no JWT authorizer runs.
ABSENT_BY_DESIGN = frozenset({"jwt"})
FIRST_PARTY = frozenset({"functions", "models"})


class PackageError(RuntimeError):
    """`osls package` (or the scanner) failed; the message carries the tail of its output."""


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


@dataclass(frozen=True)
class Grant:
    """One (action, resource) pair of an IAM role's inline policies in a template."""

    role: str
    effect: str
    action: str
    resource: str
    condition: bool

    @property
    def wildcard(self) -> bool:
        if "*" in self.action:
            return True
        if "*" not in self.resource:
            return False
        if ":log-group:" in self.resource and self.resource.endswith(_LOG_STREAM_SUFFIXES):
            return "*" in self.resource.split(":log-group:", 1)[1].split(":", 1)[0]
        return True


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _arn_text(resource: Any) -> str:
    """A resource as text: plain strings as is, Fn::Sub by its pattern, other intrinsics as JSON."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    if isinstance(resource, str):
        return resource
    return json.dumps(resource, sort_keys=True)


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy's statements; a conditional one (`Fn::If`) counts as granted (its true branch)."""
    found = []
    for statement in _as_list(document["Statement"]):
        if "Fn::If" in statement:
            statement = statement["Fn::If"][1]
        if statement != {"Ref": "AWS::NoValue"}:
            found.append(statement)
    return found


def iam_grants(template: dict[str, Any]) -> list[Grant]:
    """Every (role, action, resource) granted by the inline policies of the template's roles."""
    grants = []
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in _statements(policy["PolicyDocument"]):
                for action in _as_list(statement.get("Action", [])):
                    for target in _as_list(statement.get("Resource", [])):
                        grants.append(
                            Grant(
                                role=name,
                                effect=statement["Effect"],
                                action=action,
                                resource=_arn_text(target),
                                condition="Condition" in statement,
                            )
                        )
    return grants


def unexpected_wildcards(template: dict[str, Any]) -> list[Grant]:
    """Allowed grants with a wildcard action or resource that ALLOWED_WILDCARDS does not name."""
    return [
        grant
        for grant in iam_grants(template)
        if grant.effect == "Allow" and grant.wildcard and (grant.role, grant.action) not in ALLOWED_WILDCARDS
    ]


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


def _module_path(names: Set[str], module: str) -> str | None:
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in names:
            return candidate
    return None


def _runtime_nodes(node: ast.AST) -> list[ast.AST]:
    """Every node below `node`, except the bodies of `if TYPE_CHECKING:` (never run)."""
    found: list[ast.AST] = []
    for child in ast.iter_child_nodes(node):
        found.append(child)
        if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for orelse in child.orelse:
                found += [orelse, *_runtime_nodes(orelse)]
            continue
        found += _runtime_nodes(child)
    return found


def _imports(source: str, module: str, is_package: bool) -> list[tuple[str, bool]]:
    """(dotted name, required) for every import in a module: `from a import b` gives ("a", True)
    and ("a.b", False), since b may be an attribute rather than a submodule."""
    found: list[tuple[str, bool]] = []
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, True) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: len(module.split(".")) - node.level + int(is_package)]
                base = ".".join([*parts, base] if base else parts)
            found.append((base, True))
            found += [(f"{base}.{alias.name}", False) for alias in node.names]
    return found


def unresolved_imports(archive: Path, handler_module: str) -> set[str]:
    """Modules the handler needs (following first-party imports from it) that neither the artifact,
    the standard library nor the Lambda runtime provides."""
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        provided = {name.split("/", 1)[0].split(".", 1)[0] for name in names}
        provided |= RUNTIME_MODULES | ABSENT_BY_DESIGN | set(sys.stdlib_module_names)
        missing: set[str] = set()
        seen: set[str] = set()
        pending = [handler_module]
        while pending:
            module = pending.pop()
            if module in seen:
                continue
            seen.add(module)
            path = _module_path(names, module)
            if path is None:
                missing.add(module)
                continue
            source = zipped.read(path).decode("utf-8")
            for name, required in _imports(source, module, path.endswith("__init__.py")):
                if name.split(".", 1)[0] not in FIRST_PARTY:
                    if name.split(".", 1)[0] not in provided:
                        missing.add(name.split(".", 1)[0])
                elif required or _module_path(names, name) or _module_path(_repository_modules(), name):
                    pending.append(name)
    return missing


@lru_cache(maxsize=1)
def _repository_modules() -> frozenset[str]:
    """The first-party module files of this checkout (paths like those in an artifact)."""
    return frozenset(
        path.relative_to(ROOT).as_posix() for top in FIRST_PARTY for path in (ROOT / top).rglob("*.py")
    )


def python_functions(stack: PackagedStack) -> dict[str, str]:
    """Handler module of each Python function, by artifact name (the function key)."""
    found = {}
    for resource in stack.resources_of_type("AWS::Lambda::Function").values():
        props = resource["Properties"]
        if str(props.get("Runtime", "")).startswith("python"):
            artifact = Path(props["Code"]["S3Key"]).stem
            found[artifact] = props["Handler"].rsplit(".", 1)[0].replace("/", ".")
    return found


def handler_in_repository(handler_module: str) -> bool:
    return _module_path(_repository_modules(), handler_module) is not None


def check(stack: PackagedStack, region: str = REGION) -> dict[str, Any]:
    """Lint and scan the templates of a packaged stack and measure its artifacts: a JSON-ready summary."""
    findings = lint(stack.template_path, region) + lint(
        stack.directory / "cloudformation-template-create-stack.json", region
    )
    blocking = [finding for finding in findings if not finding.ignored]
    oversize = {name: size for name, size in stack.artifacts.items() if size > ARTIFACT_BUDGET_BYTES}
    handlers = python_functions(stack)
    absent = sorted(name for name, module in handlers.items() if not handler_in_repository(module))
    unresolved = {
        name: sorted(unresolved_imports(stack.directory / f"{name}.zip", module))
        for name, module in handlers.items()
        if name not in absent
    }
    unresolved = {name: modules for name, modules in unresolved.items() if modules}
    scanned = scan(stack.template_path)
    return {
        "mode": stack.mode,
        "directory": str(stack.directory),
        "resources": len(stack.template["Resources"]),
        "artifacts_bytes": stack.artifacts,
        "oversize": oversize,
        "lint_ignored": {rule: sum(f.rule == rule for f in findings) for rule in IGNORED_LINT_RULES},
        "lint_findings": [f"{f.rule} {f.message} ({f.location})" for f in blocking],
        "handlers_not_in_repository": absent,
        "unresolved_imports": unresolved,
        "checkov": {"passed": scanned.passed, "skipped": scanned.skipped, "failed": scanned.failed},
        "ok": not blocking and not oversize and not absent and not unresolved and not scanned.failed,
    }


def _print_summary(summary: dict[str, Any]) -> None:
    print(f"mode {summary['mode']}: {summary['resources']} resources, template in {summary['directory']}")
    for name, size in summary["artifacts_bytes"].items():
        print(f"  {name:<20} {size / 1024 / 1024:6.2f} MB zipped")
    ignored = ", ".join(f"{rule} x{count}" for rule, count in summary["lint_ignored"].items())
    print(f"  cfn-lint: {len(summary['lint_findings'])} finding(s); framework noise ignored: {ignored}")
    for line in summary["lint_findings"]:
        print(f"    {line}")
    scanned = summary["checkov"]
    print(
        f"  checkov: {len(scanned['failed'])} failed, {scanned['passed']} passed, "
        f"{scanned['skipped']} skipped (each skip has its reason in the template)"
    )
    for line in scanned["failed"]:
        print(f"    {line}")
    for name in summary["handlers_not_in_repository"]:
        print(f"  {name}: its handler module is not in this checkout")
    for name, modules in summary["unresolved_imports"].items():
        print(f"  {name}: imports missing from the artifact: {', '.join(modules)}")
    for name in summary["oversize"]:
        print(f"  {name} is over the {ARTIFACT_BUDGET_BYTES // 1024 // 1024} MB budget")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mode", choices=[*MODES, "all"], default="all", help="user pool mode (default: all)"
    )
    parser.add_argument("--stage", default=STAGE, help=f"stage (default: {STAGE})")
    parser.add_argument("--region", default=REGION, help=f"region (default: {REGION})")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (one subfolder per mode)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    args = parser.parse_args(argv)
    modes = list(MODES) if args.mode == "all" else [args.mode]
    summaries = []
    try:
        for mode in modes:
            stack = package(mode, args.out, stage=args.stage, region=args.region)
            summaries.append(check(stack, args.region))
    except PackageError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summaries, indent=2))
    else:
        for summary in summaries:
            _print_summary(summary)
    return 0 if all(summary["ok"] for summary in summaries) else 1


if __name__ == "__main__":
    raise SystemExit(main())
