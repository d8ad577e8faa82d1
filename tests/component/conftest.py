"""Component tests: handlers and logic end to end through moto, in process, with no network.

Every test gets moto and the mirror table built from serverless.yml (tests/support/fixtures.py),
and sockets off, except 127.0.0.1 for tests marked `loopback` (a server the test starts itself).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _offline(no_network: None, aws: None) -> None:
    """Every component test: sockets off (loopback if marked), moto on, the table created."""
