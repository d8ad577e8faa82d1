"""Reliability and security tests: moto, no network except loopback servers a test starts."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _offline(no_network: None, aws: None) -> None:
    """Every test: sockets off (127.0.0.1 if marked `loopback`), moto on, the table created."""
