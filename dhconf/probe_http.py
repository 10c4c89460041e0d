"""One HTTP round trip to a Docker daemon: ``GET /_ping`` then ``GET /info``.

The transport half of the probe: the address to connect to for a binding,
plain HTTP over a unix socket or TCP, TLS with client certificates, and the
translation of every socket, TLS and HTTP failure into one ``AttemptFailed``
whose ``retryable`` flag shows whether another attempt can succeed. ``dhconf.probe`` imports this module only when
it probes, so ``http.client`` and ``ssl`` stay out of fast commands.
"""

from __future__ import annotations

import errno
import http.client
import json
import logging
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dhconf.errors import InvalidInput, ProbeFailed

if TYPE_CHECKING:
    import ssl

    from dhconf.hosts import Host
    from dhconf.probe import TlsFiles

log = logging.getLogger(__name__)

# The Host header the Go client sends over a unix socket; dockerd ignores it.
UNIX_HOST_HEADER = "api.moby.localhost"

# The body of Go's HTTPS server's response to a plain HTTP request.
_GO_PLAIN_TO_TLS_ANSWER = "Client sent an HTTP request to an HTTPS server"

# TLS alerts a server sends when it wants a client certificate and got none
# or one it does not trust. Go's crypto/tls (dockerd 20.10) sends
# bad_certificate; OpenSSL servers send certificate_required under TLS 1.3.
_CLIENT_CERT_ALERTS = frozenset({
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "SSLV3_ALERT_HANDSHAKE_FAILURE",
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
})

# OpenSSL's error reasons when the peer responds to a ClientHello in clear text.
_PLAIN_ANSWER_TO_TLS = frozenset({
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
})

# Errors that mean "nothing serves there yet" while a daemon (re)starts.
_NOT_YET_SERVING = frozenset({
    errno.ECONNREFUSED,
    errno.ENOENT,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
})

_MAX_BODY = 4 * 1024 * 1024


class AttemptFailed(ProbeFailed):
    """A failed attempt; ``retryable`` is true when a later attempt may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Target:
    """The address of one binding: a socket path, or a TCP address and port."""

    family: str  # "unix" or "tcp"
    address: str  # socket path, or host name / IP literal without brackets
    port: int | None = None
    tls: bool = False

    def __str__(self) -> str:
        if self.family == "unix":
            return self.address
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Response:
    """The daemon's response: the /info document and the API version header."""

    info: dict[str, Any]
    api_version: str | None
    latency_ms: float


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over an ``AF_UNIX`` stream socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(UNIX_HOST_HEADER, timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def target_for(host: Host, *, tls: bool, fd_socket: str | None) -> Target:
    """Choose where to connect for ``host``.

    A wildcard TCP bind is reached on the loopback address of its family;
    ``fd://`` is reached through the socket unit's path given as ``fd_socket``.
    Raises ``AttemptFailed`` (not retryable) when there is nothing to connect to.
    """
    if host.proto == "unix":
        return Target("unix", host.address)
    if host.proto == "fd":
        if not fd_socket:
            raise AttemptFailed(
                f"{host} is a socket passed by systemd; dhconf cannot reach it without "
                "the path its socket unit listens on: give the ListenStream= path of "
                "the socket unit (for docker.socket, /run/docker.sock)",
                retryable=False,
            )
        # NOTE: dockerd wraps fd:// listeners in TLS when TLS is on. This probe
        # speaks plain HTTP to them, so it fails there with an explained error.
        return Target("unix", fd_socket)
    if host.proto == "tcp":
        address = host.host.strip("[]")
        if host.is_wildcard:
            address = "::1" if ":" in address else "127.0.0.1"
        return Target("tcp", address, host.port, tls=tls)
    raise AttemptFailed(
        f"{host}: dhconf cannot probe protocol {host.proto!r}; "
        "only unix://, tcp:// and fd:// bindings serve the API on Linux",
        retryable=False,
    )


def tls_context(tls: TlsFiles) -> ssl.SSLContext:
    """Build the client TLS context that trusts ``cacert`` and presents ``cert``/``key``.

    Raises ``InvalidInput`` with the name of the file that cannot be used.
    Messages and logs contain file names only, never file contents.
    """
    import ssl

    try:
        context = ssl.create_default_context(cafile=tls.cacert)
    except (OSError, ssl.SSLError) as err:
        raise InvalidInput(
            f"cannot use {tls.cacert!r} as the CA certificate (--tlscacert): "
            f"{_os_reason(err)}; give a readable PEM file",
            path=tls.cacert,
        ) from err
    if tls.cert or tls.key:
        if not (tls.cert and tls.key):
            raise InvalidInput(
                "a client certificate needs both --tlscert and --tlskey; "
                f"got cert={tls.cert!r}, key={tls.key!r}"
            )
        try:
            context.load_cert_chain(tls.cert, tls.key)
        except (OSError, ssl.SSLError) as err:
            raise InvalidInput(
                f"cannot use client certificate {tls.cert!r} with key {tls.key!r} "
                f"(--tlscert, --tlskey): {_os_reason(err)}; give readable PEM files "
                "whose key matches the certificate",
                cert=tls.cert,
                key=tls.key,
            ) from err
    return context


def ping_and_info(
    target: Target,
    *,
    timeout: float,
    context: ssl.SSLContext | None,
    tls: TlsFiles | None,
    label: str,
) -> Response:
    """Send ``GET /_ping`` then ``GET /info`` on one connection.

    ``label`` names the binding in messages. Raises ``AttemptFailed``.
    """
    connection = _connection(target, timeout, context)
    try:
        status, headers, body = _get(connection, "/_ping")
        _check_ping(status, body, target, label)
        api_version = headers.get("Api-Version")

        started = time.monotonic()
        status, _headers, body = _get(connection, "/info")
        latency_ms = (time.monotonic() - started) * 1000
        info = _parse_info(status, body, label)
    except AttemptFailed:
        raise
    except Exception as err:  # Every transport's errors are translated in one place.
        raise _translate(err, target, tls, label, timeout) from err
    finally:
        connection.close()
    return Response(info=info, api_version=api_version, latency_ms=latency_ms)


def _connection(
    target: Target, timeout: float, context: ssl.SSLContext | None
) -> http.client.HTTPConnection:
    if target.family == "unix":
        return UnixHTTPConnection(target.address, timeout)
    if target.tls and context is not None:
        # http.client passes the host as server_hostname, so the certificate
        # must name the probed address (an IP literal matches an IP SAN).
        return http.client.HTTPSConnection(
            target.address, target.port, timeout=timeout, context=context
        )
    return http.client.HTTPConnection(target.address, target.port, timeout=timeout)


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[int, Any, bytes]:
    # NOTE: unversioned paths are deprecated in the Engine API spec but served
    # by every dockerd version; switch to /v<Api-Version>/info when one drops them.
    connection.request("GET", path, headers={"Accept": "application/json"})
    response = connection.getresponse()
    body = response.read(_MAX_BODY)
    return response.status, response.headers, body


def _check_ping(status: int, body: bytes, target: Target, label: str) -> None:
    text = body.decode("utf-8", "replace").strip()
    if status == 400 and _GO_PLAIN_TO_TLS_ANSWER in text:
        raise AttemptFailed(
            f"{label} serves TLS and got a plain HTTP request: pass --tlscacert, "
            "--tlscert and --tlskey to probe it",
            retryable=False,
        )
    if status != 200:
        raise AttemptFailed(
            f"{label}: GET /_ping returned HTTP {status}: {_api_message(text)}",
            retryable=False,
        )
    if text != "OK":
        raise AttemptFailed(
            f"{label} is not a Docker daemon: GET /_ping returned {text[:80]!r} "
            "instead of 'OK'; check the address",
            retryable=False,
        )


def _parse_info(status: int, body: bytes, label: str) -> dict[str, Any]:
    text = body.decode("utf-8", "replace")
    if status != 200:
        raise AttemptFailed(
            f"{label}: GET /info returned HTTP {status}: {_api_message(text)}",
            retryable=False,
        )
    try:
        info = json.loads(text)
    except ValueError as err:
        raise AttemptFailed(
            f"{label}: GET /info returned no JSON ({err}): {text[:80]!r}",
            retryable=False,
        ) from err
    if not isinstance(info, dict):
        raise AttemptFailed(
            f"{label}: GET /info returned JSON that is not an object: {text[:80]!r}",
            retryable=False,
        )
    return info


def _api_message(text: str) -> str:
    """Return the ``message`` of a Docker error body, or the start of the body."""
    try:
        document = json.loads(text)
    except ValueError:
        return repr(text.strip()[:200])
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return document["message"]
    return repr(text.strip()[:200])


def _translate(
    err: Exception, target: Target, tls: TlsFiles | None, label: str, timeout: float
) -> AttemptFailed:
    """Turn a socket, TLS or HTTP failure into one explained ``AttemptFailed``."""
    import ssl

    if isinstance(err, ssl.SSLCertVerificationError):
        return AttemptFailed(
            f"{label}: the daemon's certificate failed verification against "
            f"{_ca_name(tls)} for {target.address!r}: "
            f"{err.verify_message}; check --tlscacert and that the certificate "
            f"names {target.address!r}",
            retryable=False,
        )
    if isinstance(err, ssl.SSLError):
        return _translate_tls(err, tls, label)
    if isinstance(err, (TimeoutError, socket.timeout)):
        return AttemptFailed(
            f"{label}: timed out after {timeout:g} s waiting for a response from {target}",
            retryable=True,
        )
    if isinstance(err, http.client.RemoteDisconnected):
        return AttemptFailed(
            f"{label}: {target} closed the connection without a response{_tls_hint(target)}",
            retryable=True,
        )
    if isinstance(err, http.client.IncompleteRead):
        return AttemptFailed(
            f"{label}: {target} closed the connection in the middle of its response",
            retryable=True,
        )
    if isinstance(err, http.client.HTTPException):
        return AttemptFailed(
            f"{label}: {target} sent a response that is not HTTP: "
            f"{_first_line(err)}; check the address",
            retryable=False,
        )
    if isinstance(err, socket.gaierror):
        return AttemptFailed(
            f"{label}: cannot resolve {target.address!r}: {err.strerror}",
            retryable=False,
        )
    if isinstance(err, OSError):
        return _translate_os(err, target, label)
    return AttemptFailed(f"{label}: {type(err).__name__}: {err}", retryable=False)


def _translate_tls(err: ssl.SSLError, tls: TlsFiles | None, label: str) -> AttemptFailed:
    import ssl

    reason = err.reason or ""
    if reason in _CLIENT_CERT_ALERTS:
        if tls is None or not tls.cert:
            message = (
                f"{label}: the daemon requires a client certificate: "
                "pass --tlscert and --tlskey"
            )
        else:
            message = (
                f"{label}: the daemon rejected the client certificate {tls.cert!r} "
                f"({reason}); use one signed by the CA the daemon trusts (its --tlscacert)"
            )
        return AttemptFailed(message, retryable=False)
    if reason in _PLAIN_ANSWER_TO_TLS:
        return AttemptFailed(
            f"{label} responded to the TLS handshake in clear text, so it serves "
            "plain HTTP: probe it without --tlscacert, --tlscert and --tlskey",
            retryable=False,
        )
    if isinstance(err, ssl.SSLEOFError):
        return AttemptFailed(
            f"{label}: the connection closed during the TLS handshake", retryable=True
        )
    return AttemptFailed(f"{label}: TLS failed: {reason or err}", retryable=False)


def _translate_os(err: OSError, target: Target, label: str) -> AttemptFailed:
    if err.errno in _NOT_YET_SERVING:
        if err.errno == errno.ECONNREFUSED:
            message = f"{label}: connection refused at {target}"
        elif err.errno == errno.ENOENT:
            message = f"{label}: socket {target} does not exist"
        else:
            message = f"{label}: {target} closed the connection without a response{_tls_hint(target)}"
        return AttemptFailed(message, retryable=True)
    if err.errno in (errno.EACCES, errno.EPERM) and target.family == "unix":
        return AttemptFailed(
            f"{label}: permission denied on socket {target.address!r}: run as root "
            "or as a member of the socket's group",
            retryable=False,
        )
    return AttemptFailed(
        f"{label}: cannot connect to {target}: {_os_reason(err)}", retryable=False
    )


def _ca_name(tls: TlsFiles | None) -> str:
    """Return the CA file for messages; without one, the system's CA store is used."""
    if tls is not None and tls.cacert:
        return repr(tls.cacert)
    return "the system CA store"


def _tls_hint(target: Target) -> str:
    """Return a hint about TLS for a plain TCP connection closed without a response.

    Go's TLS server responds to a plain request with an HTTP 400 that names the
    mistake, but other TLS servers only close the connection.
    """
    if target.family == "tcp" and not target.tls:
        return "; if this port serves TLS, pass --tlscacert, --tlscert and --tlskey"
    return ""


def _os_reason(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err)


def _first_line(err: http.client.HTTPException) -> str:
    line = getattr(err, "line", None)
    if isinstance(line, str) and line:
        return repr(line[:80])
    return f"{type(err).__name__}: {err}"
