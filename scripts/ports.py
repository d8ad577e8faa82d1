"""The local stack's ports: one per service, from the MIRROR_*_PORT variables or picked free.

Defaults 8000 (DynamoDB Local), 9229 (cognito-local), 3000 / 3002 (the mirror's HTTP and Lambda
APIs), 3100 / 3102 (the example consumer's) and 4010 (moto's server: the user event bus and queue).
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from scripts.dynamodb_local import LocalServiceError, port_in_use

PORT_VARIABLES = {
    "dynamodb": ("MIRROR_DYNAMODB_PORT", 8000),
    "cognito": ("MIRROR_COGNITO_PORT", 9229),
    "http": ("MIRROR_HTTP_PORT", 3000),
    "lambda_": ("MIRROR_LAMBDA_PORT", 3002),
    "consumer_http": ("MIRROR_CONSUMER_HTTP_PORT", 3100),
    "consumer_lambda": ("MIRROR_CONSUMER_LAMBDA_PORT", 3102),
    # moto's server: the user event bus, the consumer's rule and its queue (scripts/event_relay.py).
    "events": ("MIRROR_EVENTS_PORT", 4010),
}


@dataclass(frozen=True)
class Ports:
    dynamodb: int
    cognito: int
    http: int
    lambda_: int
    # The example consumer's serverless-offline (HTTP API, Lambda API).
    consumer_http: int = PORT_VARIABLES["consumer_http"][1]
    consumer_lambda: int = PORT_VARIABLES["consumer_lambda"][1]
    events: int = PORT_VARIABLES["events"][1]

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Ports:
        values: dict[str, int] = {}
        for key, (variable, default) in PORT_VARIABLES.items():
            raw = env.get(variable, "").strip() or str(default)
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise LocalServiceError(f"{variable} must be a port number, got {raw!r}")
            values[key] = int(raw)
        return cls(**values)

    @classmethod
    def free(cls, env: Mapping[str, str] = os.environ) -> Ports:
        """Ports free now, one per service port (for tests next to a running `make dev`).

        From MIRROR_PORT_RANGE ("13000-13999") when set, else whatever the kernel hands out.
        """
        span = env.get("MIRROR_PORT_RANGE", "").strip()
        if span:
            return cls._free_in_range(span)
        sockets = []
        try:
            for _ in PORT_VARIABLES:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind(("127.0.0.1", 0))
                sockets.append(sock)
            numbers = [sock.getsockname()[1] for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
        return cls(*numbers)

    @classmethod
    def _free_in_range(cls, span: str) -> Ports:
        low, _, high = span.partition("-")
        if not (low.isdigit() and high.isdigit() and 0 < int(low) < int(high) < 65536):
            raise LocalServiceError(f"MIRROR_PORT_RANGE must look like 13000-13999, got {span!r}")
        candidates = list(range(int(low), int(high) + 1))
        random.shuffle(candidates)  # two test runs in one range rarely pick the same ports
        found = [port for port in candidates[:200] if not port_in_use(port)][: len(PORT_VARIABLES)]
        if len(found) < len(PORT_VARIABLES):
            raise LocalServiceError(f"no {len(PORT_VARIABLES)} free ports in MIRROR_PORT_RANGE {span}")
        return cls(*found)

    def all(self) -> tuple[int, ...]:
        return tuple(getattr(self, key) for key in PORT_VARIABLES)

    def variable_of(self, port: int) -> str:
        for key, (variable, _) in PORT_VARIABLES.items():
            if getattr(self, key) == port:
                return variable
        return "the port variables"
