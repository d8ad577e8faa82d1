"""A Cognito stand-in for benchmarks: ListUsers, AdminGetUser, GetUser, ListGroups and ListUsersInGroup
over Cognito's JSON protocol.

It serves N generated users on 127.0.0.1, adds a fixed latency to every call and answers
TooManyRequestsException above a per-category rate (ListUsers and ListUsersInGroup share the UserList
category's 30 RPS, as the real quota; ListGroups 5 RPS, the per-pool limit of its category).
Clients run unchanged through `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=http://127.0.0.1:PORT`.

    python -m bench.cognito_standin --port 12100 --users 10000 [--latency-ms 100] [--list-rps 30]
                                    [--tenants 50]   (user i is in `custom:tenant` "tenant-<i mod tenants>")
                                    [--groups 0]     (user i is in "group-<k>", k = i mod (groups + 1),
                                                      and in no group when k = groups)

- ListUsers: `Limit` (<= 60), `PaginationToken`, `Filter` of the forms `sub ^= "<prefix>"`,
  `sub = "<sub>"` and `username = "<name>"`; users of a page come in sub order.
- AdminGetUser: by username (or by sub, as Cognito accepts the alias).
- GetUser: `AccessToken` "standin-<username>" (for the naive per-request baseline).
- ListGroups (`Limit` <= 60, `NextToken`); ListUsersInGroup (`GroupName`, `Limit` <= 60, `NextToken`).
- GET /stats: JSON counts of calls and throttles per operation, and the CPU it used (`cpu_ms`).
"""

from __future__ import annotations

import argparse
import base64
import bisect
import collections
import hashlib
import json
import os
import re
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
DEFAULT_RPS = {"ListUsers": 30.0, "AdminGetUser": 120.0, "GetUser": 120.0, "ListGroups": 5.0}
# Operations that count against another operation's rate (the same quota category).
SHARED_RATE = {"ListUsersInGroup": "ListUsers"}
_FILTER = re.compile(r'^\s*(sub|username)\s*(\^?=)\s*"([^"]*)"\s*$')
_CREATED = 1_700_000_000.0


class Pool:
    """N deterministic users, indexed by sub (sorted) and username, generated on demand."""

    def __init__(self, size: int, seed: str = "standin", tenants: int = 50, groups: int = 0) -> None:
        self.size = size
        self.seed = seed
        self.tenants = tenants
        self.groups = groups
        pairs = sorted((self.sub_of(i), i) for i in range(size))
        self.subs = [sub for sub, _ in pairs]
        self.index_of_sub = [i for _, i in pairs]

    def sub_of(self, i: int) -> str:
        digest = hashlib.md5(f"{self.seed}-{i}".encode(), usedforsecurity=False).digest()
        return str(uuid.UUID(bytes=digest, version=4))

    @staticmethod
    def username_of(i: int) -> str:
        return f"user{i:07d}"

    def index_of_username(self, username: str) -> int | None:
        if username.startswith("user") and username[4:].isdigit():
            i = int(username[4:])
            return i if 0 <= i < self.size and self.username_of(i) == username else None
        position = bisect.bisect_left(self.subs, username)
        if position < len(self.subs) and self.subs[position] == username:
            return self.index_of_sub[position]
        return None

    def attributes(self, i: int) -> list[dict[str, str]]:
        return [
            {"Name": "sub", "Value": self.sub_of(i)},
            {"Name": "email", "Value": f"user{i}@example.com"},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "given_name", "Value": f"Given{i % 997}"},
            {"Name": "family_name", "Value": f"Family{i % 991}"},
            {"Name": "custom:tenant", "Value": f"tenant-{i % self.tenants}"},
        ]

    def user_type(self, i: int) -> dict[str, Any]:
        return {
            "Username": self.username_of(i),
            "Attributes": self.attributes(i),
            "UserCreateDate": _CREATED,
            "UserLastModifiedDate": _CREATED,
            "Enabled": True,
            "UserStatus": "CONFIRMED",
        }

    def group_names(self) -> list[str]:
        return [f"group-{k:03d}" for k in range(self.groups)]

    def members(self, group: str) -> range | None:
        """The user indexes in `group` (None: no such group)."""
        if group not in self.group_names():
            return None
        return range(int(group.removeprefix("group-")), self.size, self.groups + 1)

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        start = bisect.bisect_left(self.subs, prefix)
        end = bisect.bisect_left(self.subs, prefix + "\U0010ffff") if prefix else len(self.subs)
        return start, end


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class Limiter:
    """At most `rate` calls in any trailing one-second window, per operation."""

    def __init__(self, rates: dict[str, float]) -> None:
        self.rates = rates
        self.calls: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.lock = threading.Lock()

    def admit(self, operation: str) -> bool:
        operation = SHARED_RATE.get(operation, operation)
        rate = self.rates.get(operation)
        if rate is None:
            return True
        now = time.monotonic()
        with self.lock:
            window = self.calls[operation]
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= rate:
                return False
            window.append(now)
            return True


class StandIn:
    def __init__(self, pool: Pool, pool_id: str, latency: float, rates: dict[str, float]) -> None:
        self.pool = pool
        self.pool_id = pool_id
        self.latency = latency
        self.limiter = Limiter(rates)
        self.stats: dict[str, int] = collections.Counter()
        self.stats_lock = threading.Lock()

    def count(self, name: str) -> None:
        with self.stats_lock:
            self.stats[name] += 1

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        self.count(f"{operation}.calls")
        time.sleep(self.latency)
        if not self.limiter.admit(operation):
            self.count(f"{operation}.throttled")
            raise ApiError("TooManyRequestsException", "Too many requests")
        if operation == "GetUser":
            return self.get_user(body)
        if body.get("UserPoolId") != self.pool_id:
            raise ApiError("ResourceNotFoundException", f"User pool {body.get('UserPoolId')} does not exist.")
        if operation == "ListUsers":
            return self.list_users(body)
        if operation == "AdminGetUser":
            return self.admin_get_user(body)
        if operation == "ListGroups":
            names = self.pool.group_names()
            page, token = _page(body, len(names), "NextToken")
            return {"Groups": [{"GroupName": names[k], "UserPoolId": self.pool_id} for k in page], **token}
        if operation == "ListUsersInGroup":
            members = self.pool.members(str(body.get("GroupName")))
            if members is None:
                raise ApiError("ResourceNotFoundException", "Group not found.")
            page, token = _page(body, len(members), "NextToken")
            return {"Users": [self.pool.user_type(members[j]) for j in page], **token}
        raise ApiError("InvalidAction", f"{operation} is not served by the stand-in")

    def list_users(self, body: dict[str, Any]) -> dict[str, Any]:
        limit = int(body.get("Limit") or 60)
        if not 0 < limit <= 60:
            raise ApiError("InvalidParameterException", "Limit must be between 1 and 60")
        start, end = 0, self.pool.size
        raw_filter = body.get("Filter")
        if raw_filter:
            match = _FILTER.match(raw_filter)
            if not match:
                raise ApiError("InvalidParameterException", "Invalid filter")
            name, operator, value = match.groups()
            if name == "sub":
                start, end = self.pool.prefix_range(value)
                if operator == "=":
                    end = start + 1 if start < end and self.pool.subs[start] == value else start
            else:
                i = self.pool.index_of_username(value)
                users = [self.pool.user_type(i)] if i is not None and operator == "=" else []
                return {"Users": users}
        token = body.get("PaginationToken")
        if token:
            try:
                start = int(base64.b64decode(token).decode())
            except ValueError as exc:
                raise ApiError("InvalidParameterException", "Invalid pagination token") from exc
        stop = min(end, start + limit)
        response: dict[str, Any] = {
            "Users": [self.pool.user_type(self.pool.index_of_sub[p]) for p in range(start, stop)]
        }
        if stop < end:
            response["PaginationToken"] = base64.b64encode(str(stop).encode()).decode()
        return response

    def _found(self, username: str) -> int:
        i = self.pool.index_of_username(username)
        if i is None:
            raise ApiError("UserNotFoundException", "User does not exist.")
        return i

    def admin_get_user(self, body: dict[str, Any]) -> dict[str, Any]:
        i = self._found(str(body.get("Username", "")))
        user = self.pool.user_type(i)
        return {
            "Username": user["Username"],
            "UserAttributes": user["Attributes"],
            "UserCreateDate": _CREATED,
            "UserLastModifiedDate": _CREATED,
            "Enabled": True,
            "UserStatus": "CONFIRMED",
        }

    def get_user(self, body: dict[str, Any]) -> dict[str, Any]:
        token = str(body.get("AccessToken", ""))
        if not token.startswith("standin-"):
            raise ApiError("NotAuthorizedException", "Invalid Access Token")
        i = self.pool.index_of_username(token.removeprefix("standin-"))
        if i is None:
            raise ApiError("UserNotFoundException", "User does not exist.")
        return {"Username": self.pool.username_of(i), "UserAttributes": self.pool.attributes(i)}


def _page(body: dict[str, Any], total: int, token_name: str) -> tuple[range, dict[str, str]]:
    """The positions of one page of a listing of `total` items, and the token of the next one."""
    limit = int(body.get("Limit") or 60)
    if not 0 < limit <= 60:
        raise ApiError("InvalidParameterException", "Limit must be between 1 and 60")
    try:
        start = int(base64.b64decode(body[token_name]).decode()) if body.get(token_name) else 0
    except ValueError as exc:
        raise ApiError("InvalidParameterException", "Invalid pagination token") from exc
    stop = min(total, start + limit)
    token = {token_name: base64.b64encode(str(stop).encode()).decode()} if stop < total else {}
    return range(start, stop), token


def make_handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/stats":
                with standin.stats_lock:
                    stats = dict(standin.stats)
                times = os.times()
                self._send(200, {**stats, "cpu_ms": round((times.user + times.system) * 1000)})
            else:
                self._send(404, {"message": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            target = self.headers.get("X-Amz-Target", "")
            if not target.startswith(TARGET_PREFIX):
                self._send(400, {"__type": "UnknownOperationException", "message": "bad target"})
                return
            try:
                body = json.loads(raw or b"{}")
                self._send(200, standin.call(target.removeprefix(TARGET_PREFIX), body))
            except ApiError as exc:
                self._send(exc.status, {"__type": exc.code, "message": str(exc)})
            except json.JSONDecodeError:
                self._send(400, {"__type": "SerializationException", "message": "bad JSON"})

    return Handler


def serve(
    port: int,
    users: int,
    *,
    pool_id: str,
    latency_ms: float,
    rates: dict[str, float],
    tenants: int = 50,
    groups: int = 0,
) -> ThreadingHTTPServer:
    standin = StandIn(Pool(users, tenants=tenants, groups=groups), pool_id, latency_ms / 1000, rates)
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(standin))
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=12100)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--pool-id", default="eu-west-1_StandIn")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--list-rps", type=float, default=DEFAULT_RPS["ListUsers"])
    parser.add_argument("--read-rps", type=float, default=DEFAULT_RPS["AdminGetUser"])
    parser.add_argument("--tenants", type=int, default=50, help="distinct custom:tenant values")
    parser.add_argument("--groups", type=int, default=0, help="groups; a user is in one or none")
    args = parser.parse_args()
    rates = {"ListUsers": args.list_rps, "AdminGetUser": args.read_rps, "GetUser": args.read_rps}
    rates["ListGroups"] = DEFAULT_RPS["ListGroups"]
    server = serve(
        args.port,
        args.users,
        pool_id=args.pool_id,
        latency_ms=args.latency_ms,
        rates=rates,
        tenants=args.tenants,
        groups=args.groups,
    )
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"cognito stand-in: {args.users} users on http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
