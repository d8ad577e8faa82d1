"""What a packaged Python function imports: its handler in this checkout, and every import resolved by
the artifact, the standard library or the Lambda runtime."""

from __future__ import annotations

import ast
import sys
import zipfile
from collections.abc import Set
from functools import lru_cache
from pathlib import Path

from scripts.package_build import ROOT, PackagedStack

# Importable in the Lambda runtime without being packaged (besides the standard library).
RUNTIME_MODULES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"})
# Left out on purpose (noDeploy in serverless.yml): imported only where no JWT authorizer runs.
ABSENT_BY_DESIGN = frozenset({"jwt"})
FIRST_PARTY = frozenset({"functions", "models"})


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
