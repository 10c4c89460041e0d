"""Tests for dhconf.probe against servers started by the test on loopback or a unix socket."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dhconf.errors import InvalidInput
from dhconf.hosts import Host, parse_host
from dhconf.probe import ProbeResult, TlsFiles, default_deadline, probe_hosts, probe_once
from tests.bed.dockerd import TlsMaterial, free_port, make_tls_files

INFO = {
    "ID": "7f3c2a6e-1111-4c1e-9a55-0123456789ab",
    "Name": "testhost",
    "ServerVersion": "99.1.0",
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
    # Padding makes the body larger than one chunk, as dockerd's /info is.
    "Warnings": ["x" * 100] * 40,
}


class DockerLikeHandler(BaseHTTPRequestHandler):
    """Request handler that responds to /_ping and /info as dockerd does, /info chunked."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None]]  # (path, Host header), set per server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.seen.append((self.path, self.headers.get("Host")))
        if self.path == "/_ping":
            self._answer(200, b"OK", "text/plain; charset=utf-8")
        elif self.path == "/info":
            self._answer_chunked(json.dumps(INFO).encode())
        else:
            self._answer(404, b'{"message":"page not found"}', "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer_chunked(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(body), 1024):
            chunk = body[start:start + 1024]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def address_string(self) -> str:
        return "test client"  # a unix socket client has no address

    def log_message(self, format: str, *args: object) -> None:
        pass


class ServerErrorHandler(DockerLikeHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append((self.path, self.headers.get("Host")))
        self._answer(500, b'{"message":"daemon exploded"}', "application/json")


class NotDockerHandler(DockerLikeHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append((self.path, self.headers.get("Host")))
        self._answer(200, b"<html>hello</html>", "text/html")


class ThreadingUnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@contextlib.contextmanager
def http_server(
    handler: type[BaseHTTPRequestHandler],
    where: str,
    tmp_path: Path,
    context: ssl.SSLContext | None = None,
) -> Iterator[tuple[Host, socketserver.BaseServer]]:
    """Serve ``handler`` on a unix socket under tmp_path or on 127.0.0.1."""
    if where == "unix":
        path = tmp_path / "d.sock"
        server: socketserver.BaseServer = ThreadingUnixHTTPServer(str(path), handler)
        host = parse_host(f"unix://{path}")
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        host = parse_host(f"tcp://127.0.0.1:{server.server_address[1]}")
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host, server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def raw_listener(where: str, tmp_path: Path) -> Iterator[tuple[Host, socket.socket]]:
    """Yield a listening socket that the test accepts on by hand, or never."""
    if where == "unix":
        path = tmp_path / "raw.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        host = parse_host(f"unix://{path}")
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        host = parse_host(f"tcp://127.0.0.1:{sock.getsockname()[1]}")
    sock.listen(8)
    try:
        yield host, sock
    finally:
        sock.close()


def absent_host(where: str, tmp_path: Path) -> Host:
    if where == "unix":
        return parse_host(f"unix://{tmp_path / 'absent.sock'}")
    return parse_host(f"tcp://127.0.0.1:{free_port()}")


WHERE = ["unix", "tcp"]


# --- success ------------------------------------------------------------------


@pytest.mark.parametrize("where", WHERE)
def test_daemon_info_fields_reported(where: str, tmp_path: Path) -> None:
    with http_server(DockerLikeHandler, where, tmp_path) as (host, _server):
        result = probe_once(host)

    assert result.ok, result.error
    assert result.server_version == "99.1.0"
    assert result.id == INFO["ID"]
    assert result.name == "testhost"
    assert result.operating_system == INFO["OperatingSystem"]
    assert result.api_version == "1.41"
    assert result.host == str(host)
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert result.attempts == 1


@pytest.mark.parametrize("where", WHERE)
def test_ping_then_unversioned_info(where: str, tmp_path: Path) -> None:
    with http_server(DockerLikeHandler, where, tmp_path) as (host, server):
        probe_once(host)

    assert [path for path, _host in server.seen] == ["/_ping", "/info"]


def test_unix_sends_go_client_host_header(tmp_path: Path) -> None:
    with http_server(DockerLikeHandler, "unix", tmp_path) as (host, server):
        probe_once(host)

    assert {header for _path, header in server.seen} == {"api.moby.localhost"}


def test_wildcard_bind_is_probed_on_loopback(tmp_path: Path) -> None:
    with http_server(DockerLikeHandler, "tcp", tmp_path) as (host, _server):
        wildcard = parse_host(f"tcp://0.0.0.0:{host.port}")
        result = probe_once(wildcard)

    assert result.ok, result.error
    assert result.host == f"tcp://0.0.0.0:{host.port}"


def test_fd_probed_through_socket_path(tmp_path: Path) -> None:
    with http_server(DockerLikeHandler, "unix", tmp_path) as (host, _server):
        result = probe_once(parse_host("fd://"), fd_socket=host.address)

    assert result.ok, result.error
    assert result.host == "fd://"


def test_fd_without_socket_path_fails() -> None:
    result = probe_hosts([parse_host("fd://")], deadline=5)[0]

    assert not result.ok
    assert "ListenStream=" in result.error
    assert result.attempts == 1


@pytest.mark.parametrize("where", WHERE)
def test_late_server_reached_after_retries(where: str, tmp_path: Path) -> None:
    host = absent_host(where, tmp_path)
    started = threading.Event()

    def serve_later() -> None:
        time.sleep(0.3)
        if where == "unix":
            server = ThreadingUnixHTTPServer(host.address, DockerLikeHandler)
        else:
            server = ThreadingHTTPServer(("127.0.0.1", host.port), DockerLikeHandler)
        server.seen = []
        late_servers.append(server)
        started.set()
        server.serve_forever()

    late_servers: list[socketserver.BaseServer] = []
    thread = threading.Thread(target=serve_later, daemon=True)
    thread.start()
    try:
        result = probe_hosts([host], deadline=10)[0]
    finally:
        started.wait(5)
        for server in late_servers:
            server.shutdown()
            server.server_close()
        thread.join()

    assert result.ok, result.error
    assert result.attempts > 1


def test_results_keep_host_order(tmp_path: Path) -> None:
    with http_server(DockerLikeHandler, "unix", tmp_path) as (unix_host, _s1), \
            http_server(DockerLikeHandler, "tcp", tmp_path) as (tcp_host, _s2):
        results = probe_hosts([tcp_host, unix_host], deadline=5)

    assert [result.host for result in results] == [str(tcp_host), str(unix_host)]
    assert all(result.ok for result in results), [result.error for result in results]


# --- failures -----------------------------------------------------------------


@pytest.mark.parametrize("where", WHERE)
def test_silent_server_times_out(where: str, tmp_path: Path) -> None:
    with raw_listener(where, tmp_path) as (host, _sock):
        result = probe_once(host, timeout=0.3)

    assert not result.ok
    assert str(host) in result.error
    assert "timed out after 0.3 s" in result.error


@pytest.mark.parametrize("where", WHERE)
def test_silent_server_stops_at_deadline(where: str, tmp_path: Path) -> None:
    with raw_listener(where, tmp_path) as (host, _sock):
        started = time.monotonic()
        result = probe_hosts([host], deadline=0.6)[0]
        elapsed = time.monotonic() - started

    assert not result.ok
    assert elapsed < 3


@pytest.mark.parametrize("where", WHERE)
def test_http_500_is_final(where: str, tmp_path: Path) -> None:
    with http_server(ServerErrorHandler, where, tmp_path) as (host, _server):
        result = probe_hosts([host], deadline=5)[0]

    assert not result.ok
    assert "returned HTTP 500: daemon exploded" in result.error
    assert result.attempts == 1


@pytest.mark.parametrize("where", WHERE)
def test_non_docker_http_server_rejected(where: str, tmp_path: Path) -> None:
    with http_server(NotDockerHandler, where, tmp_path) as (host, _server):
        result = probe_hosts([host], deadline=5)[0]

    assert "is not a Docker daemon" in result.error
    assert result.attempts == 1


@pytest.mark.parametrize("where", WHERE)
def test_garbage_response_is_final(where: str, tmp_path: Path) -> None:
    with raw_listener(where, tmp_path) as (host, sock):
        def answer_garbage() -> None:
            connection, _ = sock.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        result = probe_hosts([host], deadline=5)[0]
        thread.join(5)

    assert not result.ok
    assert "not HTTP" in result.error
    assert "SSH-2.0" in result.error
    assert result.attempts == 1


@pytest.mark.parametrize("where", WHERE)
def test_absent_server_retried_until_deadline(where: str, tmp_path: Path) -> None:
    host = absent_host(where, tmp_path)

    started = time.monotonic()
    result = probe_hosts([host], deadline=0.5)[0]
    elapsed = time.monotonic() - started

    assert not result.ok
    assert result.attempts > 1
    assert 0.5 <= elapsed < 2
    assert str(host) in result.error


@pytest.mark.parametrize(
    ("where", "expected"),
    [("unix", "does not exist"), ("tcp", "connection refused")],
)
def test_absent_server_error_reason(where: str, expected: str, tmp_path: Path) -> None:
    result = probe_hosts([absent_host(where, tmp_path)], deadline=0.2)[0]

    assert expected in result.error


def test_backoff_limits_attempts() -> None:
    # 50 ms doubling to 1 s: about 7 attempts in 3 s, not 60.
    result = probe_hosts([parse_host(f"tcp://127.0.0.1:{free_port()}")], deadline=3)[0]

    assert 4 <= result.attempts <= 9


# --- on_wait and the deadline ---------------------------------------------------


def test_on_wait_once_per_host(tmp_path: Path) -> None:
    messages: list[str] = []
    hosts = [absent_host("unix", tmp_path), absent_host("tcp", tmp_path)]

    probe_hosts(hosts, deadline=0.4, on_wait=messages.append)

    assert sorted(len([m for m in messages if str(h) in m]) for h in hosts) == [1, 1]


def test_on_wait_skipped_on_first_success(tmp_path: Path) -> None:
    messages: list[str] = []
    with http_server(DockerLikeHandler, "unix", tmp_path) as (host, _server):
        probe_hosts([host], deadline=5, on_wait=messages.append)

    assert messages == []


def test_on_wait_mentions_plain_tcp_sleep() -> None:
    # The wildcard is probed on 127.0.0.1, where nothing listens on this port.
    messages: list[str] = []
    host = parse_host(f"tcp://0.0.0.0:{free_port()}")

    probe_hosts([host], deadline=0.2, on_wait=messages.append)

    assert len(messages) == 1
    assert "deliberately sleeps about 16 s" in messages[0]


def test_on_wait_loopback_omits_sleep() -> None:
    messages: list[str] = []

    probe_hosts([parse_host(f"tcp://127.0.0.1:{free_port()}")], deadline=0.2, on_wait=messages.append)

    assert "16 s" not in messages[0]


@pytest.mark.parametrize(
    ("hosts", "tls", "expected"),
    [
        (["unix:///run/docker.sock"], None, 30.0),
        (["tcp://127.0.0.1:2375"], None, 31.0),
        (["tcp://0.0.0.0:2375"], None, 46.0),
        (["tcp://192.0.2.7:2375", "tcp://[::]:2375"], None, 62.0),
        (["tcp://0.0.0.0:2376"], TlsFiles("ca.pem"), 31.0),
        (["tcp://0.0.0.0:2376"], TlsFiles("ca.pem", "cert.pem", "key.pem"), 30.0),
    ],
)
def test_default_deadline_adds_tcp_sleeps(
    hosts: list[str], tls: TlsFiles | None, expected: float
) -> None:
    assert default_deadline([parse_host(h) for h in hosts], tls) == expected


def test_result_json_contract_keys() -> None:
    result = ProbeResult(host="unix:///run/docker.sock", ok=False, error="boom", attempts=2)

    assert set(result.to_json()) >= {"host", "ok", "server_version", "error"}


# --- TLS ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def server_context(material: TlsMaterial, *, require_client: bool = True) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(material.server_cert, material.server_key)
    context.load_verify_locations(material.cacert)
    context.verify_mode = ssl.CERT_REQUIRED if require_client else ssl.CERT_NONE
    return context


def client_files(material: TlsMaterial) -> TlsFiles:
    return TlsFiles(str(material.cacert), str(material.client_cert), str(material.client_key))


def test_tls_with_client_cert_succeeds(tls_material: TlsMaterial, tmp_path: Path) -> None:
    context = server_context(tls_material)
    with http_server(DockerLikeHandler, "tcp", tmp_path, context) as (host, _server):
        result = probe_hosts([host], tls=client_files(tls_material), deadline=5)[0]

    assert result.ok, result.error
    assert result.server_version == "99.1.0"


def test_tls_without_client_cert_fails_clearly(
    tls_material: TlsMaterial, tmp_path: Path
) -> None:
    # Under TLS 1.3 the server may close before the client reads its alert.
    # The client then sees a reset and retries, until an attempt reads the alert.
    context = server_context(tls_material)
    with http_server(DockerLikeHandler, "tcp", tmp_path, context) as (host, _server):
        started = time.monotonic()
        result = probe_hosts([host], tls=TlsFiles(str(tls_material.cacert)), deadline=20)[0]
        elapsed = time.monotonic() - started

    assert not result.ok
    assert "the daemon requires a client certificate: pass --tlscert and --tlskey" in result.error
    assert elapsed < 10


def test_tls_wrong_ca_is_final(
    tls_material: TlsMaterial, tmp_path: Path
) -> None:
    other = make_tls_files(tmp_path / "other")
    wrong_ca = TlsFiles(str(other.cacert), str(tls_material.client_cert), str(tls_material.client_key))
    context = server_context(tls_material)
    with http_server(DockerLikeHandler, "tcp", tmp_path, context) as (host, _server):
        result = probe_hosts([host], tls=wrong_ca, deadline=5)[0]

    assert "failed verification" in result.error
    assert result.attempts == 1


def test_tls_without_cacert_uses_system_store(tls_material: TlsMaterial, tmp_path: Path) -> None:
    files = TlsFiles("", str(tls_material.client_cert), str(tls_material.client_key))
    context = server_context(tls_material)
    with http_server(DockerLikeHandler, "tcp", tmp_path, context) as (host, _server):
        result = probe_hosts([host], tls=files, deadline=5)[0]

    assert "failed verification against the system CA store" in result.error


def test_tls_checks_ip_san(tmp_path: Path) -> None:
    material = make_tls_files(tmp_path / "tls", server_ips=("127.0.0.2",))
    context = server_context(material)
    with http_server(DockerLikeHandler, "tcp", tmp_path, context) as (host, _server):
        result = probe_hosts([host], tls=client_files(material), deadline=5)[0]

    assert "IP address mismatch" in result.error


def test_tls_to_plain_port_explained(tls_material: TlsMaterial, tmp_path: Path) -> None:
    with http_server(DockerLikeHandler, "tcp", tmp_path) as (host, _server):
        result = probe_hosts([host], tls=client_files(tls_material), deadline=5)[0]

    assert "it serves plain HTTP" in result.error
    assert result.attempts == 1


def test_plain_to_tls_port_suggests_tls(tls_material: TlsMaterial, tmp_path: Path) -> None:
    context = server_context(tls_material)
    with http_server(DockerLikeHandler, "tcp", tmp_path, context) as (host, _server):
        result = probe_hosts([host], deadline=0.5)[0]

    assert "if this port serves TLS, pass --tlscacert" in result.error


def test_unix_ignores_tls_options(tls_material: TlsMaterial, tmp_path: Path) -> None:
    with http_server(DockerLikeHandler, "unix", tmp_path) as (host, _server):
        result = probe_hosts([host], tls=client_files(tls_material), deadline=5)[0]

    assert result.ok, result.error


@pytest.mark.parametrize("field", ["cacert", "cert", "key"])
def test_unreadable_tls_file_is_invalid_input(
    field: str, tls_material: TlsMaterial, tmp_path: Path
) -> None:
    files = client_files(tls_material).__dict__ | {field: str(tmp_path / "missing.pem")}

    with pytest.raises(InvalidInput, match="missing.pem"):
        probe_hosts([parse_host("unix:///run/docker.sock")], tls=TlsFiles(**files), deadline=1)


def test_cert_without_key_is_invalid(tls_material: TlsMaterial) -> None:
    files = TlsFiles(str(tls_material.cacert), str(tls_material.client_cert))

    with pytest.raises(InvalidInput, match="--tlskey"):
        probe_once(parse_host("unix:///run/docker.sock"), tls=files)


def test_tls_errors_omit_file_contents(tls_material: TlsMaterial, tmp_path: Path) -> None:
    # A certificate given as the key: the message names the files, not what is in them.
    files = TlsFiles(str(tls_material.cacert), str(tls_material.client_cert), str(tls_material.client_cert))

    with pytest.raises(InvalidInput) as caught:
        probe_once(parse_host("unix:///run/docker.sock"), tls=files)

    assert "BEGIN" not in caught.value.message
