"""Unit tests: pure and fast. No network at all (not even loopback), no child process, no AWS, no moto.

Around every test here sockets are disabled (pytest-socket: opening one raises SocketBlockedError)
and starting a process fails. A test that needs moto belongs in tests/component; one that needs a
real process or port, in tests/integration.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket


class ProcessBlockedError(RuntimeError):
    """A unit test tried to start a process."""


def _no_process(*args: Any, **kwargs: Any) -> None:
    raise ProcessBlockedError("a unit test may not start a process: move it to tests/integration")


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(subprocess.Popen, "__init__", _no_process)
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
