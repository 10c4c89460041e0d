"""Probe every binding with ``GET /_ping`` then ``GET /info``.

After a restart, dockerd may take seconds before it serves: containerd
starts first, and since 20.10 dockerd sleeps on purpose before each TCP
listener without mutual TLS (1 s, plus 15 s when the address is not
loopback and TLS was not configured explicitly). So the probe retries
refused and reset connections with a growing pause until one shared
deadline, and gives up at once on responses that no waiting can change: an
HTTP error status, a certificate that fails verification, a daemon that
wants a client certificate.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    import ssl

    from dhconf.hosts import Host

log = logging.getLogger(__name__)

ATTEMPT_TIMEOUT = 5.0  # seconds per attempt; a running daemon responds within milliseconds
FIRST_PAUSE = 0.05
MAX_PAUSE = 1.0
BASE_DEADLINE = 30.0

# dockerd 20.10+ (moby cmd/dockerd/daemon.go, loadListeners): per TCP listener
# without mutual TLS it sleeps 1 s, and 15 s more when the address is not
# loopback and neither --tls nor --tlsverify was given. Listeners are opened
# one after another, so the pauses add up.
TCP_WITHOUT_MTLS_SLEEP = 1.0
TCP_UNAUTHENTICATED_SLEEP = 15.0


@dataclass(frozen=True)
class TlsFiles:
    """Client-side TLS files: the CA that signed the daemon's certificate,
    and the client certificate and key to present.

    ``cert`` and ``key`` may be left out for a daemon that verifies no client
    (``--tlsverify=false``).
    """

    cacert: str
    cert: str | None = None
    key: str | None = None


@dataclass
class ProbeResult:
    """The outcome of probing one binding."""

    host: str  # the binding as normalized text
    ok: bool
    latency_ms: float | None = None  # of the successful GET /info
    server_version: str | None = None
    id: str | None = None
    name: str | None = None
    operating_system: str | None = None
    api_version: str | None = None
    error: str | None = None
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def default_deadline(hosts: Sequence[Host], tls: TlsFiles | None) -> float:
    """Return how long to wait for ``hosts`` after a (re)start, in seconds.

    Adds dockerd's deliberate pauses before plain TCP listeners to a base
    that covers a normal start-up.
    """
    deadline = BASE_DEADLINE
    for host in hosts:
        if host.proto != "tcp" or (tls is not None and tls.cert):
            continue
        deadline += TCP_WITHOUT_MTLS_SLEEP
        if tls is None and not host.is_loopback:
            deadline += TCP_UNAUTHENTICATED_SLEEP
    return deadline


def probe_once(
    host: Host,
    *,
    tls: TlsFiles | None = None,
    timeout: float = ATTEMPT_TIMEOUT,
    fd_socket: str | None = None,
) -> ProbeResult:
    """Probe ``host`` once, without retrying.

    ``tls`` applies to TCP bindings; ``fd_socket`` is the path the socket unit
    listens on, used for ``fd://``. Raises ``InvalidInput`` when a TLS file
    cannot be used; every failure of the daemon itself is in the result.
    """
    from dhconf import probe_http

    context = probe_http.tls_context(tls) if tls else None
    try:
        result = _attempt(host, tls, context, timeout, fd_socket)
    except probe_http.AttemptFailed as err:
        result = ProbeResult(host=str(host), ok=False, error=err.message)
    result.attempts = 1
    return result


def probe_hosts(
    hosts: Sequence[Host],
    *,
    tls: TlsFiles | None = None,
    deadline: float = BASE_DEADLINE,
    fd_socket: str | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> list[ProbeResult]:
    """Probe every host until it responds or ``deadline`` seconds have passed.

    The hosts are probed in parallel against the same deadline, and the
    results are in the order of ``hosts``. ``on_wait(message)`` is called
    from a worker thread, once per host whose first attempt fails.
    Raises ``InvalidInput`` when a TLS file cannot be used.
    """
    from concurrent.futures import ThreadPoolExecutor

    from dhconf import probe_http

    context = probe_http.tls_context(tls) if tls else None
    until = time.monotonic() + deadline
    if len(hosts) <= 1:
        return [
            _probe_until(host, until, deadline, tls, context, fd_socket, on_wait)
            for host in hosts
        ]
    with ThreadPoolExecutor(max_workers=len(hosts), thread_name_prefix="probe") as pool:
        futures = [
            pool.submit(_probe_until, host, until, deadline, tls, context, fd_socket, on_wait)
            for host in hosts
        ]
        return [future.result() for future in futures]


def wait_message(host: Host, deadline: float, tls: TlsFiles | None) -> str:
    """Return the message for ``on_wait``: the host, the deadline and any known delay."""
    message = f"waiting up to {deadline:g} s for {host} to respond"
    if host.proto == "tcp" and tls is None and not host.is_loopback:
        message += (
            "; dockerd deliberately sleeps about 16 s before it serves plain TCP "
            "on a non-loopback address"
        )
    return message


def _probe_until(
    host: Host,
    until: float,
    deadline: float,
    tls: TlsFiles | None,
    context: ssl.SSLContext | None,
    fd_socket: str | None,
    on_wait: Callable[[str], None] | None,
) -> ProbeResult:
    from dhconf.probe_http import AttemptFailed

    attempts = 0
    pause = FIRST_PAUSE
    while True:
        attempts += 1
        remaining = until - time.monotonic()
        try:
            result = _attempt(host, tls, context, min(ATTEMPT_TIMEOUT, max(remaining, 0.01)), fd_socket)
        except AttemptFailed as err:
            failure = err
        else:
            result.attempts = attempts
            return result

        remaining = until - time.monotonic()
        if not failure.retryable or remaining <= 0:
            return _gave_up(host, failure, attempts, deadline)
        if attempts == 1 and on_wait is not None:
            on_wait(wait_message(host, deadline, tls))
        log.debug("Retrying %s in %.2f s: %s", host, pause, failure.message)
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, MAX_PAUSE)


def _gave_up(host: Host, failure: Exception, attempts: int, deadline: float) -> ProbeResult:
    message = getattr(failure, "message", str(failure))
    if getattr(failure, "retryable", False):
        message = (
            f"{message} (timed out after {deadline:g} s and {attempts} attempts); "
            "check that dockerd is running and listens there"
        )
    log.debug("Gave up on %s after %d attempts: %s", host, attempts, message)
    return ProbeResult(host=str(host), ok=False, error=message, attempts=attempts)


def _attempt(
    host: Host,
    tls: TlsFiles | None,
    context: ssl.SSLContext | None,
    timeout: float,
    fd_socket: str | None,
) -> ProbeResult:
    """Send one GET /_ping and GET /info to ``host``; raises ``AttemptFailed``."""
    from dhconf import probe_http

    target = probe_http.target_for(host, tls=tls is not None, fd_socket=fd_socket)
    label = _label(host, target)
    response = probe_http.ping_and_info(
        target, timeout=timeout, context=context, tls=tls, label=label
    )
    info = response.info
    log.debug("Probed %s: ServerVersion %s in %.1f ms", label, info.get("ServerVersion"), response.latency_ms)
    return ProbeResult(
        host=str(host),
        ok=True,
        latency_ms=round(response.latency_ms, 3),
        server_version=_text(info.get("ServerVersion")),
        id=_text(info.get("ID")),
        name=_text(info.get("Name")),
        operating_system=_text(info.get("OperatingSystem")),
        api_version=response.api_version,
    )


def _label(host: Host, target: Any) -> str:
    """Return the binding's name for messages, with the probed address when it differs."""
    text = str(host)
    if host.proto == "fd" or (host.proto == "tcp" and host.is_wildcard):
        return f"{text} (probed at {target})"
    return text


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
