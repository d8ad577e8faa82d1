"""Deploy-test fixtures: `osls package` runs once per user pool mode per session (offline, no AWS).

The templates and artifacts land in a temporary folder; scripts.package_check does the work, so
`make package` and these tests package the same way.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripts.package_build import MODES, PackagedStack, PackageError, package
from scripts.package_check import check


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PackagedStack]:
    out = tmp_path_factory.mktemp("package")
    try:
        return {mode: package(mode, out) for mode in MODES}
    except PackageError as exc:
        pytest.fail(f"osls package failed (run `make setup-node` first?):\n{exc}", pytrace=False)


@pytest.fixture(params=list(MODES))
def stack(request: pytest.FixtureRequest, packaged: dict[str, PackagedStack]) -> PackagedStack:
    """The packaged stack of each user pool mode in turn."""
    return packaged[request.param]


@pytest.fixture(scope="session")
def checked(packaged: dict[str, PackagedStack]) -> dict[str, dict[str, Any]]:
    """`make package`'s verdict (cfn-lint, checkov, artifacts) on each mode, computed once."""
    try:
        return {mode: check(stack) for mode, stack in packaged.items()}
    except PackageError as exc:
        pytest.fail(f"{exc}", pytrace=False)
