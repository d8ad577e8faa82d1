"""The reader's botocore-free DynamoDB client against a failing DynamoDB (a loopback stand-in):
throttling, 5xx, refusals and silence are retried or answered as botocore's client would, and the
reader turns what is left into its 503; over HTTPS the certificate is verified."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cognito_mirror import ConfigurationError, MirrorReader, MirrorUnavailableError
from cognito_mirror._dynamodb_http import DynamoDBHttpClient
from tests.support.fixtures import TABLE
from tests.support.loopback import Server, closed_port, json_server, silent_server

pytestmark = pytest.mark.loopback

ROW = {
    "Item": {
        "sub": {"S": "ada"},
        "username": {"S": "ada"},
        "attributes": {"M": {"email": {"S": "ada@example.com"}}},
        "status": {"S": "CONFIRMED"},
        "enabled": {"BOOL": True},
        "observed_at": {"N": "1764000000000000"},
    }
}


def error(code: str) -> dict[str, str]:
    return {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "stand-in"}


def answers(*replies: tuple[int, Any]) -> Any:
    """A route answering `replies` in turn, then the last one for ever."""
    queue = list(replies)

    def route(method: str, path: str, body: bytes) -> tuple[int, Any]:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return route


def reader(url: str, read: float = 1.0) -> MirrorReader:
    return MirrorReader(TABLE, dynamodb=DynamoDBHttpClient(url, "eu-west-1", 0.5, read, 2))


def posts(server: Server) -> int:
    return sum(1 for method, _ in server.requests if method == "POST")


@pytest.mark.parametrize(
    "first",
    [
        (400, error("ProvisionedThroughputExceededException")),
        (400, error("ThrottlingException")),
        (400, error("RequestLimitExceeded")),
        (500, error("InternalServerError")),
        (503, b""),
    ],
)
def test_a_throttled_or_failed_read_is_retried_once_and_answers(first: tuple[int, Any]) -> None:
    # Given DynamoDB failing the first read, then answering
    with json_server(answers(first, (200, ROW))) as server:
        # When the reader reads the user / Then the second attempt answers
        assert reader(server.url).get("ada").attributes["email"] == "ada@example.com"
        assert posts(server) == 2


def test_throttling_on_every_attempt_is_a_503_after_the_configured_attempts() -> None:
    with json_server(answers((400, error("ProvisionedThroughputExceededException")))) as server:
        with pytest.raises(MirrorUnavailableError, match="ProvisionedThroughputExceededException"):
            reader(server.url).get("ada")
        assert posts(server) == 2


class Recorder:
    """A MetricsSink that keeps the names it was given."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.names.append(name)


@pytest.fixture(params=["http", "botocore"])
def client_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The reader's client as `dynamodb_client` builds it: the botocore-free one inside Lambda, or
    botocore's (MIRROR_READER_HTTP=botocore); both against the endpoint a test names."""
    if request.param == "http":
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "consumer-dev-hello")
    else:
        monkeypatch.setenv("MIRROR_READER_HTTP", "botocore")
    return str(request.param)


def configured_reader(
    monkeypatch: pytest.MonkeyPatch, url: str, region: str = "eu-west-1", **options: Any
) -> MirrorReader:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
    return MirrorReader(TABLE, region=region, **options)


@pytest.mark.parametrize(
    "code",
    [
        "AccessDeniedException",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "ValidationException",
    ],
)
def test_an_error_no_retry_can_fix_is_a_counted_misconfiguration_at_once(
    code: str, client_path: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given DynamoDB refusing the reader's deployment (permissions, table name, credentials)
    with json_server(answers((400, error(code)))) as server:
        metrics = Recorder()
        one = configured_reader(monkeypatch, server.url, metrics=metrics)
        # When a profile and a directory page are read
        with pytest.raises(ConfigurationError, match=code) as read:
            one.get("ada")
        with pytest.raises(ConfigurationError, match=code):
            one.find_by_email("ada@example.com")
        # Then each is a 500 "Service misconfigured" (no Retry-After) after one request, counted
        # and logged with the error code
        assert read.value.status_code == 500 and "Retry-After" not in read.value.headers
        assert posts(server) == 2
        assert metrics.names.count("MirrorMisconfigured") == 2
        assert any(code in record.getMessage() for record in caplog.records)


def test_missing_credentials_are_a_misconfiguration(monkeypatch: pytest.MonkeyPatch) -> None:
    with json_server(answers((200, ROW))) as server:
        one = reader(server.url)
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        with pytest.raises(ConfigurationError, match="NoCredentialsError"):
            one.get("ada")
        assert posts(server) == 0


@pytest.mark.parametrize("region", ["eu-west-1\n", "eu west 1", "eu-west-1\r\nX-Injected: 1", "ü"])
def test_a_bad_region_with_an_explicit_endpoint_is_an_answer_not_a_crash(
    region: str, client_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an explicit endpoint and a region no AWS client accepts
    with json_server(answers((200, ROW))) as server:
        one = configured_reader(monkeypatch, server.url, region=region)
        # When the reader reads / Then a library error (500 misconfigured, or 503), no ValueError
        with pytest.raises((ConfigurationError, MirrorUnavailableError)):
            one.get("ada")
        with pytest.raises((ConfigurationError, MirrorUnavailableError)):
            one.find_by_email("ada@example.com")


@pytest.mark.parametrize(
    "answer",
    [
        b"<html>captive portal</html>",
        b"[1, 2]",
        b"null",
        {"Item": "ada"},
        {"Item": {"sub": "ada"}},
        {"Item": {"username": {"S": "ada"}}},
        {"Item": {**ROW["Item"], "attributes": {"M": {"email": "ada@example.com"}}}},
    ],
)
def test_a_200_that_is_not_dynamodbs_answer_is_a_503_never_cached_nor_repaired(
    answer: Any, client_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given something answering 200 in DynamoDB's place, then DynamoDB answering again
    repairs: list[Any] = []
    with json_server(answers((200, answer), (200, ROW))) as server:
        one = configured_reader(monkeypatch, server.url, repair=lambda sub, username: repairs.append(sub))
        # When the user is read twice
        with pytest.raises(MirrorUnavailableError, match="ResponseParserError"):
            one.get("ada")
        # Then the first is a 503, nothing was cached nor repaired, and the second reads the row
        assert one.get("ada").attributes["email"] == "ada@example.com"
        assert repairs == []


@pytest.mark.parametrize("answer", [{}, {"Items": "ada"}, {"Items": [{"sub": {"S": 1}}]}, b"<html/>"])
def test_a_query_answer_of_another_shape_is_a_503(
    answer: Any, client_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with json_server(answers((200, answer))) as server:
        one = configured_reader(monkeypatch, server.url)
        with pytest.raises(MirrorUnavailableError, match="ResponseParserError"):
            one.find_by_email("ada@example.com")


def botocore_client(url: str) -> Any:
    """botocore's own DynamoDB client, configured as `reader(url)`'s (standard mode, 2 attempts)."""
    from botocore.config import Config
    from botocore.session import Session

    config = Config(
        connect_timeout=0.5, read_timeout=1.0, retries={"mode": "standard", "total_max_attempts": 2}
    )
    return Session().create_client("dynamodb", "eu-west-1", endpoint_url=url, config=config)


def http_client(url: str) -> DynamoDBHttpClient:
    return DynamoDBHttpClient(url, "eu-west-1", 0.5, 1.0, 2)


def requests_sent(make_client: Any, replies: list[tuple[int, Any]], calls: int) -> int:
    """The requests one client sends for `calls` GetItems against a server answering `replies`."""
    with json_server(answers(*replies)) as server:
        client = make_client(server.url)
        for _ in range(calls):
            with contextlib.suppress(Exception):
                client.get_item(TableName=TABLE, Key={"sub": {"S": "ada"}})
        return posts(server)


def test_an_outage_costs_dynamodb_no_more_requests_than_botocore_would_send() -> None:
    # Given DynamoDB answering 500 to every request
    outage = [(500, error("InternalServerError"))]
    # When 100 reads fail through one client, botocore's and then the botocore-free one
    botocore_count = requests_sent(botocore_client, outage, 100)
    http_count = requests_sent(http_client, outage, 100)
    # Then the retry quota stops retrying at the same point: the same number of requests
    assert 100 < botocore_count < 200
    assert http_count == botocore_count


def test_successes_refill_the_retry_quota_as_botocore_does() -> None:
    # Given an outage long enough to empty the quota, 20 answers, then the outage again
    failed = (500, error("InternalServerError"))
    emptied = requests_sent(botocore_client, [failed], 100)
    replies = [failed] * emptied + [(200, ROW)] * 20 + [failed]
    # When 130 reads go through one client, botocore's and then the botocore-free one
    botocore_count = requests_sent(botocore_client, replies, 130)
    http_count = requests_sent(http_client, replies, 130)
    # Then the successes gave back the same retries to both: the same number of requests
    assert botocore_count > emptied + 20 + 10
    assert http_count == botocore_count


@pytest.mark.parametrize(
    "answer",
    [(429, b""), (429, error("InternalServerError")), (400, error("PriorRequestNotComplete"))],
    ids=["429-unmodeled", "429-modeled-code", "prior-request-not-complete"],
)
def test_each_answer_is_retried_exactly_as_botocore_retries_it(answer: tuple[int, Any]) -> None:
    # Given DynamoDB always giving the same answer
    # When 3 reads go through botocore's client and then the botocore-free one
    # Then both send the same number of requests (a 429 with a modeled code is not retried)
    assert requests_sent(http_client, [answer], 3) == requests_sent(botocore_client, [answer], 3)


def test_the_reader_answers_503_at_once_when_the_quota_is_spent() -> None:
    with json_server(answers((500, error("InternalServerError")))) as server:
        client = http_client(server.url)
        client.quota.available = 0
        with pytest.raises(MirrorUnavailableError, match="InternalServerError"):
            MirrorReader(TABLE, dynamodb=client).get("ada")
        assert posts(server) == 1


def test_a_refused_connection_is_a_503_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(MirrorUnavailableError, match="EndpointConnectionError"):
        reader(closed_port()).get("ada")
    assert time.monotonic() - started < 1.0


def test_a_silent_dynamodb_is_a_503_after_the_read_timeout_of_each_attempt() -> None:
    # Given DynamoDB accepting connections and never answering
    with silent_server() as server:
        started = time.monotonic()
        # When the reader reads with a 0.3 s read timeout / Then 503 after two attempts, not before
        with pytest.raises(MirrorUnavailableError, match="ReadTimeoutError"):
            reader(server.url, read=0.3).get("ada")
        assert 0.6 <= time.monotonic() - started < 2.0
        assert len(server.requests) == 2


def test_a_200_that_is_not_json_is_a_503() -> None:
    with (
        json_server(answers((200, b"<html>captive portal</html>"))) as server,
        pytest.raises(MirrorUnavailableError, match="ResponseParserError"),
    ):
        reader(server.url).get("ada")


@contextlib.contextmanager
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A DynamoDB stand-in over HTTPS with a self-signed certificate for 127.0.0.1: (url, its cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = json.dumps(ROW).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", cert_file
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_https_verifies_the_certificate_against_the_system_store_or_aws_ca_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB over HTTPS with a certificate no public authority signed
    with tls_server(tmp_path) as (url, cert):
        # When the reader reads without a CA bundle / Then the certificate is refused: 503
        monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
        with pytest.raises(MirrorUnavailableError, match="EndpointConnectionError"):
            reader(url).get("ada")
        # And with AWS_CA_BUNDLE naming it (as botocore honours it), the read succeeds
        monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
        assert reader(url).get("ada").attributes["email"] == "ada@example.com"


def group_route(batch_answer: Any) -> Any:
    """ada's membership of ops in its partition, and `batch_answer` to every BatchGetItem."""
    from cognito_mirror.group_members import member_key

    member = {"group_key": {"S": member_key("ops", "ada")}, "sub": {"S": "ada"}, "member": {"BOOL": True}}

    def route(method: str, path: str, body: bytes) -> tuple[int, Any]:
        request = json.loads(body)
        if "RequestItems" in request:
            return 200, batch_answer
        partition = request["ExpressionAttributeValues"][":v"]["S"]
        return 200, {"Items": [member] if partition == member["group_key"]["S"] else []}

    return route


def test_a_group_listing_reads_through_the_botocore_free_client_and_refuses_an_odd_batch_answer() -> None:
    # Given the group-members table and the mirror behind the botocore-free client
    row = {
        **ROW["Item"],
        "deleted": {"BOOL": False},
        "groups": {"SS": ["ops"]},
        "groups_observed_at": {"N": "1"},
    }
    with json_server(group_route({"Responses": {TABLE: [row]}})) as server:
        listing = MirrorReader(TABLE, dynamodb=http_client(server.url), group_members_table="members")
        # When ops is listed / Then its member comes back, read by Query and BatchGetItem
        assert [profile.sub for profile in listing.iter_group_members("ops")] == ["ada"]
    # And a BatchGetItem answer that holds no mirror row is a 503, never a listing
    with json_server(group_route({"Responses": {TABLE: [{"sub": {"S": 1}}]}})) as server:
        listing = MirrorReader(TABLE, dynamodb=http_client(server.url), group_members_table="members")
        with pytest.raises(MirrorUnavailableError, match="ResponseParserError"):
            list(listing.iter_group_members("ops"))
