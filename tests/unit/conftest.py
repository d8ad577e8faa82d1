"""Unit tests run on moto with no network (fixtures in tests/fixtures.py)."""

from __future__ import annotations

import pytest

from tests.fixtures import TABLE, reset_process_state

__all__ = ["TABLE", "reset_process_state"]


@pytest.fixture(autouse=True)
def _offline(no_network: None, aws: None) -> None:
    """Every unit test: sockets off (loopback if marked), moto on, the table created."""
