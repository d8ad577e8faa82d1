"""Supervising the local stack's service processes: start each in its own process group, wait
until it listens or answers, and stop it with everything it spawned.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from scripts.dynamodb_local import LocalServiceError, wait_for_port

START_TIMEOUT_S = 60.0


@dataclass
class Child:
    """A service process in its own process group, so stopping it stops all it spawned."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        # Children that outlive their leader (serverless-offline's Python workers) share its group,
        # even when the leader died first: kill them and wait until none is left.
        kill_group(self.process.pid)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def kill_group(pgid: int, timeout: float = 5.0) -> None:
    """SIGKILL every process of group `pgid` and wait (bounded) until none is alive."""
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.05)


def spawn(name: str, argv: list[str], *, cwd: Path, env: Mapping[str, str], logs: Path) -> Child:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Child(name=name, process=process, log=log)


def wait_for_child_port(child: Child, port: int) -> None:
    try:
        wait_for_port(port, START_TIMEOUT_S, child.process)
    except LocalServiceError as exc:
        raise LocalServiceError(f"{child.name}: {exc} (see {child.log})") from None


def wait_until(check: Callable[[], bool], what: str, timeout: float, child: Child | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise LocalServiceError(
                f"{child.name} exited with code {child.process.returncode} (see {child.log})"
            )
        with contextlib.suppress(requests.RequestException):
            if check():
                return
        time.sleep(0.1)
    raise LocalServiceError(f"{what} did not answer within {timeout:.0f} s")
