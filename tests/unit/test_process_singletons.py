"""Per-process singletons: each is a `functools.cache` builder, and tests forget them in one place
(tests/support/fixtures.py `reset_process_state`); product modules keep no hooks for tests."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.support.fixtures import reset_process_state

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("functions", "models", "cognito_mirror", "scripts")
# The library's botocore session is made and used under one lock: a session is not thread-safe.
LOCKED_GLOBALS = {"cognito_mirror/_aws.py"}
# Builders of the process's state (settings, tables, clients, keys) that tests must be able to forget.
STATE_FOLDERS = ("functions", "models")


def _modules(folders: tuple[str, ...]) -> list[Path]:
    return [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]


def _cached_builders(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            decorators = [d.func if isinstance(d, ast.Call) else d for d in node.decorator_list]
            if any(isinstance(d, ast.Name) and d.id in {"cache", "lru_cache"} for d in decorators):
                found.append(node.name)
    return found


def test_no_product_module_keeps_a_reset_hook_or_a_hand_made_singleton() -> None:
    # Given every module the product ships or runs
    files = _modules(PRODUCT)
    assert len(files) > 50
    # When their top-level functions and `global` statements are read
    hooks, globals_ = [], []
    for path in files:
        name = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"), name)
        hooks += [
            f"{name}:{n.name}"
            for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name.startswith("reset_")
        ]
        if name not in LOCKED_GLOBALS:
            globals_ += [f"{name}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Global)]
    # Then none defines a reset hook for tests, nor rebinds a module-level singleton by hand
    assert hooks == []
    assert globals_ == []


def test_resetting_the_process_state_forgets_every_cached_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given every cached builder of the stack's modules, each cache_clear recorded
    builders = {
        f"{module}.{name}": getattr(importlib.import_module(module), name)
        for path in _modules(STATE_FOLDERS)
        for module in [".".join(path.relative_to(ROOT).with_suffix("").parts)]
        for name in _cached_builders(path)
    }
    assert {"models.settings.get_settings", "functions.common.event_publisher.events_client"} <= set(builders)
    cleared: list[str] = []
    for qualified, builder in builders.items():
        monkeypatch.setattr(builder, "cache_clear", lambda qualified=qualified: cleared.append(qualified))
    # When the tests' one reset runs
    reset_process_state()
    # Then it cleared each of them
    assert sorted(cleared) == sorted(builders)
