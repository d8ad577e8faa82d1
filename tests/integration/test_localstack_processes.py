"""The local stack (scripts/stack.py) on the real machine: free ports, a port in use, groups stopped."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from scripts import stack as local_stack
from scripts.dynamodb_local import LocalServiceError
from scripts.ports import Ports
from scripts.stack import LocalStack


def test_free_ports_stay_inside_the_given_range():
    # Given a range / When a port per service is picked / Then they are distinct and inside it
    ports = Ports.free({"MIRROR_PORT_RANGE": "13900-13999"})
    values = ports.all()
    assert len(set(values)) == len(values) == len(dataclasses.fields(Ports))
    assert all(13900 <= port <= 13999 for port in values)


def test_a_port_in_use_fails_before_anything_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Given a port already taken by someone else
    monkeypatch.setattr(local_stack, "check_prerequisites", lambda: None)
    started: list[int] = []
    monkeypatch.setattr(local_stack, "start_dynamodb_local", lambda port, **_: started.append(port))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        stack = LocalStack(ports=Ports(dynamodb=1, cognito=busy, http=2, lambda_=3), state_dir=tmp_path)
        # When the stack starts / Then one line names the port and its variable, and nothing started
        with pytest.raises(LocalServiceError, match=f"port {busy} is already in use.*MIRROR_COGNITO_PORT"):
            stack.start()
    assert started == []


def test_stopping_a_service_whose_leader_already_exited_still_stops_its_workers(tmp_path: Path) -> None:
    import subprocess

    from scripts.processes import Child, group_members

    # Given a service whose leader exited but left a worker running in its process group
    process = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & exit 0"], start_new_session=True)
    process.wait(timeout=5)
    assert group_members(process.pid), "the worker should still be running"
    # When the stack stops it
    Child(name="svc", process=process, log=tmp_path / "svc.log").stop()
    # Then no live process of that group remains
    assert group_members(process.pid) == []
