"""The stand-ins the benchmarks run against, all on 127.0.0.1 (ports overridable by env).

- DynamoDB Local (scripts.dynamodb_local) with the table from serverless.yml (scripts.table);
- moto's server as the Cognito stand-in for the naive GetUser baseline (real wire protocol,
  access tokens from InitiateAuth; no injected latency);
- a "silent" socket that accepts connections and never answers, and a closed port, for the
  unreachable-DynamoDB figures.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.dynamodb_local import (
    ROOT,
    DynamoDBLocal,
    LocalServiceError,
    port_in_use,
    start_dynamodb_local,
    wait_for_port,
)
from scripts.table import create_table

DYNAMODB_PORT = int(os.environ.get("BENCH_DYNAMODB_PORT", "14000"))
COGNITO_PORT = int(os.environ.get("BENCH_COGNITO_PORT", "14001"))
SILENT_PORT = int(os.environ.get("BENCH_SILENT_PORT", "14002"))
CLOSED_PORT = int(os.environ.get("BENCH_CLOSED_PORT", "14003"))
TABLE = os.environ.get("BENCH_TABLE", "mirror-bench")
REGION = "eu-west-1"
LOGS = ROOT / ".local" / "bench"

# The process environment every benchmark (and every cold-start process) runs with.
BASE_ENV = {
    "PYTHONPATH": str(ROOT),
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
    # What Lambda gives every function (its name; the credentials above): the reader library reads
    # DynamoDB without botocore there, so every process here runs as it would in Lambda.
    "AWS_LAMBDA_FUNCTION_NAME": "cognito-attribute-mirror-bench",
    "MIRROR_TABLE": TABLE,
    "POWERTOOLS_SERVICE_NAME": "cognito-attribute-mirror-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "CognitoAttributeMirrorBench",
    "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{DYNAMODB_PORT}",
    "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": f"http://127.0.0.1:{COGNITO_PORT}",
}


def apply_env() -> None:
    """Set BASE_ENV in this process (before any handler module is imported)."""
    for name in [n for n in os.environ if n.startswith(("AWS_ENDPOINT_URL", "JWT_", "MIRROR_"))]:
        del os.environ[name]
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(BASE_ENV)


class MotoServer(DynamoDBLocal):
    """moto's server process: the same start/stop shape as the DynamoDB Local launcher's."""


def start_moto_server(port: int, log: Path) -> MotoServer:
    if port_in_use(port):
        raise LocalServiceError(f"port {port} is already in use (set BENCH_COGNITO_PORT to another one)")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = MotoServer(port, process)
    try:
        wait_for_port(port, 30.0, process)
    except LocalServiceError:
        server.stop()
        raise
    return server


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers (a hung DynamoDB endpoint)."""

    def __init__(self, port: int) -> None:
        if port_in_use(port):
            raise LocalServiceError(f"port {port} is already in use (set BENCH_SILENT_PORT)")
        self.port = port
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(64)
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)

    def stop(self) -> None:
        self._stopped.set()
        self._sock.close()
        for conn in self._held:
            conn.close()
        self._thread.join(timeout=2)


@dataclass
class Stack:
    dynamodb: DynamoDBLocal
    cognito: MotoServer

    def ddb_client(self) -> Any:
        import boto3

        return boto3.client("dynamodb", endpoint_url=self.dynamodb.endpoint, region_name=REGION)

    def cognito_client(self) -> Any:
        import boto3

        return boto3.client("cognito-idp", endpoint_url=self.cognito.endpoint, region_name=REGION)


@contextlib.contextmanager
def local_stack() -> Iterator[Stack]:
    """DynamoDB Local with the mirror table, and moto's server; both stopped on exit."""
    LOGS.mkdir(parents=True, exist_ok=True)
    dynamodb = start_dynamodb_local(DYNAMODB_PORT, log=LOGS / "dynamodb.log")
    try:
        cognito = start_moto_server(COGNITO_PORT, LOGS / "moto.log")
        try:
            stack = Stack(dynamodb, cognito)
            create_table(stack.ddb_client(), TABLE)
            yield stack
        finally:
            cognito.stop()
    finally:
        dynamodb.stop()
