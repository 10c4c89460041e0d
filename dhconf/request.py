"""A requested change: the hosts wanted, where to write them, and the daemon's TLS settings."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from dhconf.errors import InsecureTcp, InvalidInput
from dhconf.hosts import Host
from dhconf.rootfs import RootFS

VIA_CHOICES = ("auto", "env-file", "dropin", "unit", "daemon-json")


@dataclass(frozen=True)
class DaemonTls:
    """The daemon's own TLS flags to render: --tlsverify with its CA, certificate and key."""

    cacert: str
    cert: str
    key: str

    def flags(self) -> list[str]:
        return [
            "--tlsverify",
            f"--tlscacert={self.cacert}",
            f"--tlscert={self.cert}",
            f"--tlskey={self.key}",
        ]


@dataclass
class Request:
    hosts: list[Host]
    via: str = "auto"
    tls: DaemonTls | None = None
    allow_insecure_tcp: bool = False
    notes: list[str] = field(default_factory=list)


def check_via(via: str) -> str:
    if via not in VIA_CHOICES:
        raise InvalidInput(f"invalid --via {via!r}: use one of {', '.join(VIA_CHOICES)}")
    return via


def check_tls_files(
    fs: RootFS, tlsverify: bool, cacert: str | None, cert: str | None, key: str | None
) -> DaemonTls | None:
    """Validate the daemon TLS options; return None when none were given.

    The files are paths on the target host: absolute, existing, and the key
    readable by its owner only, since dockerd runs as root and any user who
    reads the key can impersonate the daemon.
    """
    given = {"--tlscacert": cacert, "--tlscert": cert, "--tlskey": key}
    if not tlsverify and not any(given.values()):
        return None
    if not tlsverify:
        raise InvalidInput(
            "--tlscacert, --tlscert and --tlskey need --tlsverify: dhconf only renders mutual TLS"
        )
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise InvalidInput(f"--tlsverify needs {', '.join(missing)} as well")
    for name, value in given.items():
        assert value is not None
        if not value.startswith("/"):
            raise InvalidInput(f"invalid {name} {value!r}: give an absolute path on the target host")
        if any(char in value for char in " \t\n'\"$`\\;"):
            raise InvalidInput(
                f"invalid {name} {value!r}: the path must not contain whitespace, quotes, '$', "
                "backticks, ';' or backslashes"
            )
        if not fs.is_file(value):
            raise InvalidInput(f"invalid {name} {value!r}: no such file on the target host")
    mode = os.stat(fs.path(key)).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"invalid --tlskey {key!r}: it is readable by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run 'chmod 600 {key}'"
        )
    return DaemonTls(cacert=cacert, cert=cert, key=key)  # type: ignore[arg-type]


def check_insecure_tcp(hosts: list[Host], tls_verified: bool, allow: bool) -> list[Host]:
    """Return the plain-TCP hosts on non-loopback addresses; raise unless allowed."""
    exposed = [host for host in hosts if host.is_tcp and not host.is_loopback]
    if exposed and not tls_verified and not allow:
        names = ", ".join(str(host) for host in exposed)
        raise InsecureTcp(
            f"refusing to serve the Docker API without TLS on {names}: anyone who reaches it gets "
            "root on this host. Give --tlsverify with --tlscacert, --tlscert and --tlskey, bind to "
            "127.0.0.1, or pass --allow-insecure-tcp if the network is trusted."
        )
    return exposed
