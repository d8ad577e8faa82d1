"""Loopback servers the reliability tests start themselves (127.0.0.1, ephemeral ports).

- `json_server(route)`: answers every request with `route(method, path, body)`'s (status, json),
  or the raw body when the route returns bytes;
- `silent_server()`: accepts connections and never answers (read timeouts);
- `closed_port()`: a port nothing listens on (connection refused).
Use them in tests marked `loopback`; each stops on exit of its `with` block.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[[str, str, bytes], tuple[int, Any]]


@dataclass
class Server:
    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)


@contextlib.contextmanager
def json_server(route: Route) -> Iterator[Server]:
    server = Server(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.requests.append((self.command, self.path))
            status, payload = route(self.command, self.path, body)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    # A short poll: shutdown() waits for serve_forever's next poll (half a second by default).
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="loopback-json", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def silent_server() -> Iterator[Server]:
    """Accepts every connection, reads nothing, answers nothing, until the block ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    server = Server(url=f"http://127.0.0.1:{listener.getsockname()[1]}")
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)
            server.requests.append(("CONNECT", ""))

    thread = threading.Thread(target=accept, name="loopback-silent", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def free_port() -> int:
    """A 127.0.0.1 port the kernel just handed out (free now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def closed_port() -> str:
    """The URL of a 127.0.0.1 port that was just free (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}"
