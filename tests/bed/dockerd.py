"""Arguments and paths for a dockerd that touches nothing of the host's own docker.

``running_dockerd`` starts Debian's dockerd with its own state directories and
the given bindings (unix sockets under a temp directory, TCP on loopback only),
and stops it by pid. ``make_tls_files`` makes a CA, a server and a client
certificate with the ``openssl`` command for ``--tlsverify`` daemons.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"

log = logging.getLogger(__name__)

# Linux's sun_path has room for 108 bytes, including the terminating NUL.
_MAX_SOCKET_PATH = 107
_STOP_GRACE = 20.0

# Run inside the private mount namespace before dockerd: empty tmpfs over /run
# and /etc/docker, so it neither meets the host's daemon.json and sockets nor
# leaves /run/docker/plugins or a key.json behind on the host. dockerd before
# 23.0 creates /etc/docker/key.json (its engine ID key) when it is missing, and
# has no flag to put it elsewhere, so without /etc/docker to cover it refuses.
_PRIVATE_RUN_AND_ETC = (
    "if [ ! -d /etc/docker ]; then"
    " echo 'test bed: /etc/docker is missing; dockerd would create it on the host' >&2;"
    " exit 1; fi"
    " && mount -t tmpfs -o mode=0755 tmpfs /run"
    " && mount -t tmpfs -o mode=0755 tmpfs /etc/docker"
    ' && exec "$@"'
)


def isolation_args(state_dir: Path) -> list[str]:
    """Return the dockerd flags that keep its state under ``state_dir``.

    No bridge and no iptables rules, so the daemon changes nothing in the
    machine's network; its own data root, exec root and pid file, so it never
    meets the host's docker.
    """
    return [
        f"--data-root={state_dir / 'data'}",
        f"--exec-root={state_dir / 'exec'}",
        f"--pidfile={state_dir / 'dockerd.pid'}",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
    ]


def require_dockerd() -> str:
    """Return the dockerd path; skip the test without one, or fail it under CI=true."""
    if os.access(DOCKERD, os.X_OK):
        return DOCKERD
    message = f"dockerd not found at {DOCKERD!r}: install Debian's docker.io package"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port(address: str = "127.0.0.1") -> int:
    """Return a TCP port that nothing listens on at ``address`` right now."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RunningDockerd:
    """A dockerd started by ``running_dockerd``."""

    pid: int
    log_path: Path
    hosts: list[str]  # every -H value passed, the control socket included
    socket_path: Path  # the unix socket that was pinged to see it ready
    state_dir: Path  # data root, exec root and pid file; removed after the stop
    ready_seconds: float  # from the start of the process to the first /_ping response


@contextlib.contextmanager
def running_dockerd(
    tmp_path: Path,
    hosts: list[str],
    extra_args: Sequence[str] = (),
    timeout: float = 30,
) -> Iterator[RunningDockerd]:
    """Run dockerd with ``hosts`` until the ``with`` block ends.

    Unix sockets must lie under ``tmp_path`` and TCP hosts must be on
    127.0.0.0/8 or ::1 with an explicit port. When no unix socket is given,
    one is added in the state directory to see when the daemon serves.
    The log stays in ``tmp_path``; the state directory is a short path under
    /tmp. dockerd runs in a private mount namespace with empty /run and
    /etc/docker, so the bind mount it puts on its data root vanishes with it
    and the host's docker files stay out of reach. Raises ``RuntimeError``
    with the end of dockerd's log when it exits or does not respond within
    ``timeout`` seconds.
    """
    dockerd = require_dockerd()
    hosts = list(hosts)
    for host in hosts:
        _check_host_is_safe(host, tmp_path)
    # containerd, started by dockerd, puts sockets under the exec root and
    # refuses paths over 104 bytes, which pytest's tmp_path soon reaches.
    state_dir = Path(tempfile.mkdtemp(prefix="dhconf-dockerd-", dir="/tmp"))
    socket_path = _control_socket(hosts, state_dir)
    log_path = tmp_path / "dockerd.log"

    argv = [UNSHARE, "--mount", "--propagation", "private", "sh", "-c", _PRIVATE_RUN_AND_ETC,
            "sh", dockerd, *isolation_args(state_dir),
            *[f"--host={host}" for host in hosts], *extra_args]
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log.info("Started dockerd pid %d with hosts %s", process.pid, hosts)
    try:
        _wait_until_serving(process, socket_path, log_path, started + timeout)
        ready_seconds = time.monotonic() - started
        log.info("dockerd pid %d served /_ping after %.2f s", process.pid, ready_seconds)
        yield RunningDockerd(
            pid=process.pid, log_path=log_path, hosts=hosts, socket_path=socket_path,
            state_dir=state_dir, ready_seconds=ready_seconds,
        )
    finally:
        _stop(process, state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def _check_host_is_safe(host: str, tmp_path: Path) -> None:
    proto, _, rest = host.partition("://")
    if proto == "unix":
        path = Path(rest)
        if not path.is_absolute() or not path.resolve().is_relative_to(tmp_path.resolve()):
            raise ValueError(f"test dockerd socket {host!r} must lie under {tmp_path}")
        if len(os.fsencode(rest)) > _MAX_SOCKET_PATH:
            raise ValueError(f"socket path {rest!r} is longer than {_MAX_SOCKET_PATH} bytes")
        return
    if proto == "tcp":
        address, _, port = rest.rpartition(":")
        try:
            loopback = ipaddress.ip_address(address.strip("[]")).is_loopback
        except ValueError:
            loopback = False
        if not loopback or not port.isdigit():
            raise ValueError(f"test dockerd host {host!r} must be tcp://127.x.x.x:PORT or tcp://[::1]:PORT")
        return
    raise ValueError(f"test dockerd host {host!r}: only unix:// and tcp:// on loopback are allowed")


def _control_socket(hosts: list[str], state_dir: Path) -> Path:
    for host in hosts:
        if host.startswith("unix://"):
            return Path(host.removeprefix("unix://"))
    path = state_dir / "control.sock"
    hosts.append(f"unix://{path}")
    return path


def _wait_until_serving(
    process: subprocess.Popen[bytes], socket_path: Path, log_path: Path, until: float
) -> None:
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"dockerd exited with status {process.returncode} before serving; "
                f"its log ends with:\n{_log_tail(log_path)}"
            )
        if _pings(socket_path):
            return
        if time.monotonic() > until:
            raise RuntimeError(
                f"dockerd did not respond to /_ping on {socket_path} within the timeout; "
                f"its log ends with:\n{_log_tail(log_path)}"
            )
        time.sleep(0.05)


def _pings(socket_path: Path) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect(str(socket_path))
        connection = http.client.HTTPConnection("api.moby.localhost", timeout=2)
        connection.sock = sock
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        return response.status == 200 and response.read() == b"OK"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        sock.close()


def _stop(process: subprocess.Popen[bytes], state_dir: Path) -> None:
    """Stop dockerd by its pid: SIGTERM, wait, then SIGKILL."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_GRACE)
        except subprocess.TimeoutExpired:
            log.warning("dockerd pid %d ignored SIGTERM for %.0f s; killing it", process.pid, _STOP_GRACE)
            process.kill()
            process.wait()
            _kill_orphaned_containerd(state_dir)
    log.info("Stopped dockerd pid %d (status %s)", process.pid, process.returncode)


def _kill_orphaned_containerd(state_dir: Path) -> None:
    """Kill the containerd that this dockerd started, in case it outlives its killed parent."""
    pid_file = state_dir / "exec" / "containerd" / "containerd.pid"
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if str(state_dir).encode() in cmdline:
        os.kill(pid, signal.SIGKILL)


def _log_tail(log_path: Path, lines: int = 30) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError as err:
        return f"(cannot read {log_path}: {err})"
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class TlsMaterial:
    """Files made by ``make_tls_files``: a CA, a server pair and a client pair."""

    cacert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def daemon_args(self) -> list[str]:
        """The dockerd flags for mutual TLS with these files."""
        return [
            "--tlsverify",
            f"--tlscacert={self.cacert}",
            f"--tlscert={self.server_cert}",
            f"--tlskey={self.server_key}",
        ]


def make_tls_files(directory: Path, server_ips: Sequence[str] = ("127.0.0.1", "::1")) -> TlsMaterial:
    """Make a CA, a server certificate for ``server_ips`` and a client certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "openssl not found: install Debian's openssl package"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=directory)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca-key.pem", "-out", "ca.pem", "-subj", "/CN=dhconf test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    san = ",".join(f"IP:{ip}" for ip in server_ips)
    _signed_pair(run, directory, "server", f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
    _signed_pair(run, directory, "client", "extendedKeyUsage=clientAuth\n")
    return TlsMaterial(
        cacert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        client_cert=directory / "client.pem",
        client_key=directory / "client-key.pem",
    )


def _signed_pair(run: Callable[..., None], directory: Path, name: str, extensions: str) -> None:
    (directory / f"{name}.ext").write_text(extensions)
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem",
        "-out", f"{name}.csr", "-subj", f"/CN=dhconf test {name}")
    run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
        "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext")
