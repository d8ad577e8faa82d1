"""Package the stack offline for each user pool mode, lint and scan each template, check its imports and
report artifact sizes.

    python -m scripts.package_check                 # both modes, stage ci, eu-west-1
    python -m scripts.package_check --mode existing --json

The parts: scripts/package_build.py (`osls package`), package_lint.py (cfn-lint, checkov),
package_iam.py (IAM wildcards), package_imports.py (what each artifact imports).
Exit 0 when every mode packages, lints without errors and fits the artifact budget.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from scripts.package_build import DEFAULT_OUT, MODES, REGION, STAGE, PackagedStack, PackageError, package
from scripts.package_imports import handler_in_repository, python_functions, unresolved_imports
from scripts.package_lint import IGNORED_LINT_RULES, lint, scan

ARTIFACT_BUDGET_BYTES = 5 * 1024 * 1024


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
