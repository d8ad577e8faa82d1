"""docs/CONFIGURATION.md against the variables the code reads: none missing, none stale.

The names are collected from the code itself: every first argument of the environment readers
(`env`, `env_float`, `env_int`, `env_choice`, `env_csv`, `os.environ.get`, `os.getenv`) in
cognito_mirror/, functions/ and models/, with `f"{prefix}_NAME"` expanded for each constant prefix
its function is called with.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cognito_mirror", "functions", "models")
READERS = {"env", "env_float", "env_int", "env_choice", "env_csv", "get", "getenv"}
# The project's own variables: each must have a row. AWS's and Powertools' own are theirs to document.
OURS = re.compile(r"(MIRROR|JWT)_[A-Z0-9_]+|USER_POOL_ID")


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _first_arg(call: ast.Call) -> ast.expr | None:
    return call.args[0] if call.args else None


def _trees() -> Iterator[ast.Module]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield ast.parse(path.read_text(), filename=str(path))


def _prefixed_reads(trees: list[ast.Module]) -> dict[str, list[tuple[int, str]]]:
    """Functions that read `f"{param}_SUFFIX"`: name -> (the parameter's index, the suffix)."""
    templates: dict[str, list[tuple[int, str]]] = {}
    for tree in trees:
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            params = [a.arg for a in function.args.args]
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                arg = _first_arg(call)
                if _called_name(call) not in READERS or not isinstance(arg, ast.JoinedStr):
                    continue
                head, *tail = arg.values
                if (
                    isinstance(head, ast.FormattedValue)
                    and isinstance(head.value, ast.Name)
                    and head.value.id in params
                    and len(tail) == 1
                    and isinstance(tail[0], ast.Constant)
                ):
                    entry = (params.index(head.value.id), str(tail[0].value))
                    templates.setdefault(function.name, []).append(entry)
    return templates


def _constant(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def variables_read() -> set[str]:
    trees = list(_trees())
    templates = _prefixed_reads(trees)
    names: set[str] = set()
    for tree in trees:
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name, first = _called_name(call), _constant(_first_arg(call))
            if name in READERS and first is not None:
                names.add(first)
            for index, suffix in templates.get(name or "", []):
                prefix = _constant(call.args[index]) if index < len(call.args) else None
                if prefix is not None:
                    names.add(prefix + suffix)
    return {name for name in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)}


def table_names() -> set[str]:
    """The variable names in the first column of docs/CONFIGURATION.md's table."""
    names: set[str] = set()
    for line in (ROOT / "docs" / "CONFIGURATION.md").read_text().splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split(" | ", 1)[0]))
    return names


def test_the_scan_finds_the_variables_of_every_kind_of_reader() -> None:
    # Given the code / When its variables are collected
    read = variables_read()
    # Then plain, library, prefixed and os.environ reads are all there
    assert {"MIRROR_TABLE", "JWT_ISSUER", "MIRROR_READER_HTTP", "USER_POOL_ID"} <= read
    assert {"MIRROR_COGNITO_BATCH_MAX_ATTEMPTS", "MIRROR_STATE_TABLE", "AWS_REGION"} <= read


def test_every_variable_the_code_reads_has_a_row_in_the_configuration_table() -> None:
    missing = {name for name in variables_read() if OURS.fullmatch(name)} - table_names()
    assert not missing, f"docs/CONFIGURATION.md lacks {sorted(missing)}"


def test_every_row_of_the_configuration_table_names_a_variable_the_code_reads() -> None:
    stale = table_names() - variables_read()
    assert not stale, f"docs/CONFIGURATION.md names variables no code reads: {sorted(stale)}"
