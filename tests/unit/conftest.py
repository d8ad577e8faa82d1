"""Unit tests: pure and fast. No network at all (not even loopback), no AWS, no moto.

Sockets are disabled around every test here (pytest-socket): a test that opens one fails with
SocketBlockedError. A test that needs moto belongs in tests/component; one that needs a real
process or port, in tests/integration.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
