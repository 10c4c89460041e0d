"""The result of reading a host: what dockerd will get and where each part comes from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dhconf.findings import Finding
from dhconf.sources.command import CommandForm, Origin, Word

if TYPE_CHECKING:
    from dhconf.hosts import Host
    from dhconf.platform import Platform
    from dhconf.sources.daemonjson import DaemonJson
    from dhconf.sources.unit import LoadedUnit


@dataclass
class Source:
    """One place that carries bindings, or could, and whether dockerd reads it."""

    kind: str  # "unit", "environment", "env-file", "shell-file", "daemon-json", "socket", "default"
    path: str | None
    hosts: list[str]
    effective: bool
    variable: str | None = None
    line: int | None = None
    reader: str | None = None  # "systemd", "sh" or "json": who parses the file

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "variable": self.variable,
            "hosts": list(self.hosts),
            "effective": self.effective,
            "line": self.line,
            "reader": self.reader,
        }


@dataclass
class SocketUnit:
    """A socket unit that passes listeners to dockerd for ``fd://``."""

    name: str
    path: str | None
    listen_streams: list[str]

    @property
    def unix_paths(self) -> set[str]:
        """The unix socket paths it listens on, with /var/run read as /run (a link on Debian and Fedora)."""
        return {_same_run(path) for path in self.listen_streams if path.startswith("/")}

    def listens_on(self, path: str) -> bool:
        return _same_run(path) in self.unix_paths

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "listen_streams": list(self.listen_streams)}


def _same_run(path: str) -> str:
    return "/run" + path[len("/var/run"):] if path.startswith("/var/run/") else path


@dataclass
class TlsSettings:
    """TLS as dockerd will see it, from its flags and daemon.json."""

    tls: bool | None = None
    tlsverify: bool | None = None

    @property
    def explicit(self) -> bool:
        """Whether TLS was configured at all; dockerd 20.10+ skips its 15 s delay then."""
        return self.tls is not None or self.tlsverify is not None

    @property
    def enabled(self) -> bool:
        # --tlsverify, even =false, turns TLS on (dockerd loadDaemonCliConfig).
        return bool(self.tls) or self.tlsverify is not None

    @property
    def verifies_clients(self) -> bool:
        # Since 20.10 an unset tlsverify inherits the tls value.
        if self.tlsverify is not None:
            return self.tlsverify
        return bool(self.tls)


@dataclass
class Detection:
    platform: Platform
    service: str
    scope: str
    unit: LoadedUnit | None = None
    socket: SocketUnit | None = None
    command: list[Word] = field(default_factory=list)
    form: CommandForm | None = None
    daemon_json: DaemonJson | None = None
    sources: list[Source] = field(default_factory=list)
    hosts: list[Host] = field(default_factory=list)
    # Each -H host of the command line with the place its value came from.
    flag_origins: list[tuple[Host, Origin]] = field(default_factory=list)
    tls: TlsSettings = field(default_factory=TlsSettings)
    findings: list[Finding] = field(default_factory=list)
    # Variable files read on the way, by host path, for the planner to edit.
    variable_files: dict[str, Any] = field(default_factory=dict)
    # Variables that the daemon's command line expands, by name.
    expanded_variables: set[str] = field(default_factory=set)
    # For an init script: the file it sources and the variable it passes to dockerd.
    script_options: tuple[str, str] | None = None
    # True when ExecStart runs dockerd inside "sh -c '...'", so sh, not systemd, splits $VAR.
    shell_wrapped: bool = False
    # The environment the detection ran with (XDG directories for --scope user).
    environ: Mapping[str, str] = field(default_factory=dict)

    @property
    def flag_hosts(self) -> list[Host]:
        """The hosts of the command line's -H flags, in order."""
        return [host for host, _ in self.flag_origins]

    @property
    def argv(self) -> list[str]:
        return [word.text for word in self.command]

    def to_json(self) -> dict[str, Any]:
        unit = None
        if self.unit is not None:
            unit = {
                "name": self.unit.name,
                "fragment_path": self.unit.fragment_path,
                "dropins": list(self.unit.dropin_paths),
                "exec_start": [list(command.argv) for command, _ in self.unit.exec_start],
                "environment_files": [
                    {"path": ref.path, "optional": ref.optional}
                    for ref in self.unit.environment_files
                ],
            }
        return {
            "platform": self.platform.to_json(),
            "service": self.service,
            "scope": self.scope,
            "unit": unit,
            "socket": self.socket.to_json() if self.socket else None,
            "command": {
                "argv": self.argv,
                "form": self.form.form if self.form else None,
            },
            "daemon_json": self.daemon_json.to_json() if self.daemon_json else None,
            "sources": [source.to_json() for source in self.sources],
            "hosts": [str(host) for host in self.hosts],
            "findings": [finding.to_json() for finding in self.findings],
        }
