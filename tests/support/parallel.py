"""Parallel runs (pytest-xdist, `-n auto --dist loadgroup`): a pytest plugin loaded from tests/conftest.py.

Tests that share a costly session fixture run in one worker, so each local service and each
`osls package` still happens once per run: every test under tests/deploy (the packaged templates,
built in the repository's folder), under tests/integration (the session's local stack and DynamoDB
Local, module stacks) and under tests/stress (their DynamoDB Local) forms one group per folder,
given whole to one worker. Every other test (unit, component, reliability, package) goes to
whichever worker is free. New files need no registration: the folder decides.

The groups are chosen here from each test's path: xdist's own `xdist_group` marks name a group by
renaming the test id, which pytest 9 no longer lets a plugin do. A test id that does carry a group
(`...@name`) keeps it.
"""

from __future__ import annotations

from typing import Any

import pytest

# Folders under tests/ whose tests share session fixtures: each runs whole in one worker.
GROUPED_FOLDERS = ("deploy", "integration", "stress")


def group_of(nodeid: str) -> str:
    """The unit of work `nodeid` belongs to: its folder's group, else the test alone."""
    if nodeid.rfind("@") > nodeid.rfind("]"):
        return nodeid.rsplit("@", 1)[1]
    parts = nodeid.split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in GROUPED_FOLDERS:
        return f"tests/{parts[1]}"
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FolderGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return FolderGroupScheduling(config, log)
