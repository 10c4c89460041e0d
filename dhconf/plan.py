"""Plan a change of bindings: which files change, how, why, and which service actions follow.

The planner starts from what ``detect`` read and the requested hosts, picks
the place that takes effect (``--via auto``) or the one the user named, and
produces new file contents. It writes nothing: ``apply`` does that.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from dhconf import flags as flagedit
from dhconf import writers
from dhconf.detection import Detection, SocketUnit
from dhconf.errors import InvalidInput, NotSupported
from dhconf.findings import INFO, WARNING, Finding
from dhconf.hosts import Host, parse_host
from dhconf.platform import INIT_SYSTEMD
from dhconf.request import Request, check_insecure_tcp
from dhconf.rootfs import RootFS


@dataclass
class PlannedFile:
    path: str
    action: str  # "create", "update" or "delete"
    before: str | None
    after: str | None
    reason: str

    @property
    def diff(self) -> str:
        before = (self.before or "").splitlines(keepends=True)
        after = (self.after or "").splitlines(keepends=True)
        lines = difflib.unified_diff(
            before,
            after,
            fromfile=self.path if self.before is not None else "/dev/null",
            tofile=self.path if self.after is not None else "/dev/null",
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "action": self.action, "reason": self.reason, "diff": self.diff}


@dataclass
class Plan:
    before: list[Host]
    after: list[Host]
    via: str
    files: list[PlannedFile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unit_changed: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.files)

    def actions(self, detection: Detection) -> list[str]:
        if not self.changed:
            return []
        service = detection.service
        if detection.platform.init == INIT_SYSTEMD:
            steps = ["daemon-reload"] if self.unit_changed else []
            return steps + [f"reset-failed {service}.service", f"restart {service}.service"]
        return [f"restart {service} ({detection.platform.init})"]


def normalize_request(detection: Detection, hosts: list[Host]) -> tuple[list[Host], list[Finding]]:
    """De-duplicate hosts, fold the dual-stack pair, and keep fd:// for a socket-activated path."""
    findings: list[Finding] = []
    result: list[Host] = []
    wildcard_ports: dict[int, Host] = {}
    socket = _activating_socket(detection)
    for host in hosts:
        if socket is not None and host.is_unix and socket.listens_on(host.address):
            fd = parse_host("fd://")
            findings.append(
                Finding(
                    "socket_activation_kept",
                    INFO,
                    f"{host} is the path that {socket.name} listens on; dhconf keeps fd:// "
                    "so that dockerd takes systemd's socket instead of opening a second listener on it.",
                )
            )
            host = fd
        if host.is_tcp and host.is_wildcard:
            first = wildcard_ports.get(host.port)
            if first is not None and first != host:
                findings.append(
                    Finding(
                        "dual_stack_folded",
                        INFO,
                        f"{host} and {first} are one dual-stack listener on Linux; dhconf keeps {first}.",
                    )
                )
                continue
            wildcard_ports[host.port] = host
        if host not in result:
            result.append(host)
    check_listeners(result)
    return result, findings


def _listen_address(host: Host) -> str:
    """Return the address dockerd's listener takes, with "localhost" as 127.0.0.1."""
    return "127.0.0.1" if host.host == "localhost" else host.host


def check_listeners(hosts: list[Host]) -> None:
    """Reject host sets that dockerd cannot listen on all at once, before anything is written."""
    fds = [host for host in hosts if host.is_fd]
    if len(fds) > 1:
        raise InvalidInput(
            f"{' and '.join(map(str, fds))} both ask for systemd's sockets; dockerd hands them all to "
            "the first and the second finds none. Keep one fd:// host."
        )
    by_port: dict[int, list[Host]] = {}
    for host in hosts:
        if host.is_tcp:
            by_port.setdefault(host.port, []).append(host)
    for port, group in by_port.items():
        if len(group) < 2:
            continue
        wildcard = [host for host in group if host.is_wildcard]
        addresses = [_listen_address(host) for host in group]
        if wildcard or len(set(addresses)) < len(addresses):
            raise InvalidInput(
                f"{' and '.join(map(str, group))} would listen on port {port} twice (a wildcard "
                "address covers every other one, and localhost is 127.0.0.1); dockerd fails with "
                "'address already in use'. Keep one of them."
            )


def _activating_socket(detection: Detection) -> SocketUnit | None:
    """Return the socket unit that passes its sockets as fd://, when the service takes them."""
    if detection.socket is None or detection.platform.init != INIT_SYSTEMD:
        return None
    if not any(host.is_fd for host in detection.flag_hosts):
        return None
    return detection.socket


def _socket_left_listening(detection: Detection, hosts: list[Host]) -> list[Finding]:
    """Warn when dropping fd:// leaves the socket unit listening where no process accepts."""
    socket = detection.socket
    if socket is None or any(host.is_fd for host in hosts):
        return []
    if not any(host.is_fd for host in detection.hosts):
        return []
    paths = ", ".join(socket.listen_streams) or "its address"
    return [
        Finding(
            "socket_left_listening",
            WARNING,
            f"without fd://, {socket.name} still listens on {paths} and the service still pulls it "
            f"in, but dockerd no longer accepts on it, so clients there hang. Keep fd://, or run "
            f"'systemctl disable --now {socket.name}' and add a drop-in that removes the dependency.",
        )
    ]


def plan_change(fs: RootFS, detection: Detection, request: Request) -> Plan:
    """Return the plan that makes dockerd listen on exactly ``request.hosts``."""
    hosts, findings = normalize_request(detection, request.hosts)
    if not hosts:
        raise NotSupported("no hosts requested: dockerd would fall back to its default; give at least one -H")

    tls_verified = request.tls is not None or detection.tls.verifies_clients
    exposed = check_insecure_tcp(hosts, tls_verified, request.allow_insecure_tcp)
    tls_flags = list(request.tls.flags()) if request.tls else None
    if exposed and not tls_verified:
        tls_flags = [flagedit.INSECURE_OPT_OUT]
        findings.append(
            Finding(
                "insecure_tcp_allowed",
                WARNING,
                f"serving {', '.join(map(str, exposed))} without TLS, as --allow-insecure-tcp asked; "
                "the rendered flags say --tls=false so that dockerd starts without its 15 s delay.",
            )
        )

    findings += _socket_left_listening(detection, hosts)
    if tls_flags is None and detection.tls.explicit:
        findings.append(
            Finding(
                "tls_kept",
                INFO,
                "the daemon's TLS settings stay as they are; give --tlsverify with its files to replace them.",
            )
        )
    plan = Plan(before=list(detection.hosts), after=hosts, via=request.via, findings=findings)
    method = writers.choose_method(detection, request, hosts)
    plan.via = method
    writers.WRITERS[method](fs, detection, plan, hosts, tls_flags)
    writers.resolve_conflicts(fs, detection, plan, method, tls_flags)
    return plan
