"""The effective host list, and findings that look across all sources at once."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping

from dhconf.detection import Detection, Source, TlsSettings
from dhconf.errors import InvalidHost
from dhconf.findings import ERROR, INFO, WARNING, Finding
from dhconf.hosts import Host, find_host_flags, parse_host
from dhconf.platform import INIT_SYSTEMD
from dhconf.sources.command import FORM_ROOTLESS, FORM_UNKNOWN, Origin

DEFAULT_UNIX = "unix:///var/run/docker.sock"
# dockerd listens here when TLS is on and no host is given (moby opts.DefaultTLSHost).
DEFAULT_TLS = "tcp://localhost:2376"
_BOOLEAN_WORDS = {"true": True, "1": True, "false": False, "0": False}


def read_tls_flags(argv: list[str], daemon_json: Mapping[str, object] | None) -> TlsSettings:
    """Read --tls and --tlsverify (boolean flags, optionally =VALUE) and their daemon.json keys."""
    settings = TlsSettings()
    for word in argv:
        for flag in ("tls", "tlsverify"):
            if word == f"--{flag}":
                setattr(settings, flag, True)
            elif word.startswith(f"--{flag}="):
                setattr(settings, flag, _BOOLEAN_WORDS.get(word.partition("=")[2].lower(), True))
    for key in ("tls", "tlsverify"):
        value = (daemon_json or {}).get(key)
        if isinstance(value, bool):
            setattr(settings, key, value)
    return settings


def settle_hosts(detection: Detection, environ: Mapping[str, str]) -> None:
    """Work out the hosts dockerd gets: its -H flags, else daemon.json, else its default."""
    daemon_json = detection.daemon_json
    detection.tls = read_tls_flags(detection.argv, daemon_json.data if daemon_json else None)

    by_origin: dict[Origin, list[str]] = defaultdict(list)
    for flag in find_host_flags(detection.argv):
        value_word = detection.command[flag.index + flag.length - 1]
        if flag.value is None:
            detection.findings.append(
                Finding(
                    "invalid_host",
                    ERROR,
                    f"{_where(value_word.origin)}: -H at the end of the command line has no value; "
                    "dockerd refuses to start.",
                    path=value_word.origin.path,
                    line=value_word.origin.line,
                )
            )
            continue
        host = _parse(detection, flag.value, value_word.origin)
        if host is not None:
            detection.flag_origins.append((host, value_word.origin))
            by_origin[value_word.origin].append(str(host))
    _add_flag_sources(detection, by_origin)

    json_hosts: list[Host] = []
    json_source = None
    if daemon_json is not None and daemon_json.hosts is not None:
        origin = Origin("daemon-json", daemon_json.path)
        json_hosts = [host for text in daemon_json.hosts if (host := _parse(detection, text, origin))]
        json_source = Source(
            "daemon-json", daemon_json.path, [str(host) for host in json_hosts], False, reader="json"
        )
        detection.sources.append(json_source)

    if detection.flag_hosts:
        chosen = detection.flag_hosts
    elif json_source is not None and json_hosts:
        json_source.effective = True
        chosen = json_hosts
    elif not detection.command or (detection.form is not None and detection.form.form == FORM_UNKNOWN):
        # Nothing read the daemon's command line (no unit, no init script), or a wrapper
        # (su, a script) may pass anything on: dockerd's default is no safe guess.
        chosen = []
    else:
        default = _default_host(detection, environ)
        chosen = [parse_host(default)] if default else []
        detection.sources.append(Source("default", None, [str(host) for host in chosen], True))
    detection.hosts = list(dict.fromkeys(chosen))


def _parse(detection: Detection, text: str, origin: Origin) -> Host | None:
    try:
        return parse_host(text)
    except InvalidHost as err:
        relative = _relative_unix(text)
        if relative is not None:
            detection.findings.append(
                Finding(
                    "relative_unix_path",
                    WARNING,
                    f"{_where(origin)}: {text!r} is a relative socket path; dockerd keeps it and binds "
                    f"it relative to its working directory (/ for a service, so /{relative.address}). "
                    f"Write unix:///{relative.address}.",
                    path=origin.path,
                    line=origin.line,
                )
            )
            return relative
        detection.findings.append(
            Finding("invalid_host", ERROR, f"{_where(origin)}: {err.message}", path=origin.path, line=origin.line)
        )
        return None


def _relative_unix(text: str) -> Host | None:
    """Return the host dockerd keeps for ``unix://relative/path``, which dhconf itself never writes."""
    proto, _, rest = text.partition("://")
    if proto != "unix" or not rest or rest.startswith("/") or "://" in rest:
        return None
    try:
        parse_host(f"unix:///{rest}")
    except InvalidHost:
        return None
    return Host("unix", rest)


def _where(origin: Origin) -> str:
    place = origin.path or "the command line"
    if origin.line:
        place = f"{place}:{origin.line}"
    if origin.variable:
        place = f"{place} ({origin.variable})"
    return place


def _add_flag_sources(detection: Detection, by_origin: dict[Origin, list[str]]) -> None:
    """List each place that contributes -H flags, and each expanded variable file even without hosts."""
    seen: set[tuple[str | None, str | None]] = set()
    for origin, hosts in by_origin.items():
        reader = "sh" if origin.kind == "shell-file" else "systemd"
        detection.sources.append(
            Source(origin.kind, origin.path, hosts, True, origin.variable, origin.line, reader)
        )
        seen.add((origin.path, origin.variable))
    if detection.script_options is not None and detection.script_options not in seen:
        path, name = detection.script_options
        parsed = detection.variable_files.get(path)
        assignment = parsed.last(name) if parsed is not None else None
        detection.sources.append(
            Source("shell-file", path, [], True, name, assignment.line if assignment else None, "sh")
        )
        seen.add((path, name))
    for path, parsed in detection.variable_files.items():
        for name in sorted(detection.expanded_variables):
            if (path, name) in seen or name not in parsed.values:
                continue
            assignment = parsed.last(name)
            kind = "shell-file" if detection.platform.init != INIT_SYSTEMD else "env-file"
            reader = "sh" if kind == "shell-file" else "systemd"
            detection.sources.append(
                Source(kind, path, [], True, name, assignment.line if assignment else None, reader)
            )


def _default_host(detection: Detection, environ: Mapping[str, str]) -> str | None:
    rootless = detection.scope == "user" or (
        detection.form is not None and detection.form.form == FORM_ROOTLESS
    )
    if detection.tls.enabled and not rootless:
        return DEFAULT_TLS
    if not rootless:
        return DEFAULT_UNIX
    runtime_dir = environ.get("XDG_RUNTIME_DIR")
    if not runtime_dir:
        detection.findings.append(
            Finding(
                "rootless_socket_unknown",
                WARNING,
                "the rootless daemon listens on $XDG_RUNTIME_DIR/docker.sock, and XDG_RUNTIME_DIR "
                "is not set here; run dhconf as the user who runs the daemon.",
            )
        )
        return None
    return f"unix://{os.path.join(runtime_dir, 'docker.sock')}"


def run_checks(detection: Detection) -> None:
    """Add the findings that need the whole picture."""
    _check_conflict(detection)
    _check_insecure_tcp(detection)
    _check_dual_stack(detection)
    _check_fd(detection)


def _check_conflict(detection: Detection) -> None:
    daemon_json = detection.daemon_json
    if daemon_json is None or daemon_json.hosts is None or not detection.flag_hosts:
        return
    flags = " ".join(str(host) for host in detection.flag_hosts)
    detection.findings.append(
        Finding(
            "hosts_conflict",
            ERROR,
            f"hosts are set both as -H flags ({flags}) and in {daemon_json.path} "
            f"({', '.join(daemon_json.hosts) or 'an empty list'}): dockerd refuses to start with "
            "'the following directives are specified both as a flag and in the configuration "
            "file: hosts'. Keep them in one place, e.g. with 'dhconf set'.",
            path=daemon_json.path,
        )
    )


def _check_insecure_tcp(detection: Detection) -> None:
    if detection.tls.verifies_clients:
        return
    for host in detection.hosts:
        if not host.is_tcp or host.is_loopback:
            continue
        message = (
            f"{host} serves the Docker API over TCP without TLS client verification: anyone who "
            "reaches that address has root on this machine. Use --tlsverify with certificates, "
            "or bind to 127.0.0.1."
        )
        if not detection.tls.explicit:
            message += " dockerd 20.10+ also waits about 16 s before serving it, unless --tls=false is given."
        detection.findings.append(Finding("insecure_tcp", WARNING, message))


def _check_dual_stack(detection: Detection) -> None:
    ports: dict[int, set[str]] = defaultdict(set)
    for host in detection.hosts:
        if host.is_tcp and host.is_wildcard:
            ports[host.port].add(host.host)
    for port, addresses in sorted(ports.items()):
        if len(addresses) > 1:
            detection.findings.append(
                Finding(
                    "dual_stack_duplicate",
                    ERROR,
                    f"tcp://0.0.0.0:{port} and tcp://[::]:{port} are one dual-stack listener on Linux; "
                    "dockerd fails to bind the second with 'address already in use'. Keep one of them.",
                )
            )


def _check_fd(detection: Detection) -> None:
    if not any(host.is_fd for host in detection.hosts):
        _check_socket_shadowed(detection)
        return
    if detection.platform.init != INIT_SYSTEMD:
        detection.findings.append(
            Finding(
                "fd_without_socket",
                ERROR,
                f"fd:// needs systemd socket activation, but {detection.service} is started by "
                f"{detection.platform.init}: dockerd exits with 'no sockets found via socket "
                "activation'. Use unix:///var/run/docker.sock instead.",
            )
        )
        return
    if detection.socket is None:
        detection.findings.append(
            Finding(
                "fd_without_socket",
                ERROR,
                f"fd:// is among the hosts but there is no {detection.service}.socket unit to pass "
                "a socket: dockerd exits with 'no sockets found via socket activation'. Install the "
                "socket unit or use unix:///var/run/docker.sock.",
            )
        )
        return
    _check_socket_shadowed(detection)


def _check_socket_shadowed(detection: Detection) -> None:
    """Warn when dockerd binds a unix path that the socket unit it pulls in listens on too."""
    socket = detection.socket
    if socket is None or detection.platform.init != INIT_SYSTEMD:
        return
    uses_fd = any(host.is_fd for host in detection.hosts)
    pulled_in = detection.unit is not None and any(
        socket.name in value.split()
        for key in ("Requires", "Wants", "BindsTo", "Also")
        for value in detection.unit.values(key, "Unit")
    )
    if not uses_fd and not pulled_in:
        return
    for host in detection.hosts:
        if host.is_unix and socket.listens_on(host.address):
            detection.findings.append(
                Finding(
                    "unix_socket_shadows_activation",
                    WARNING,
                    f"{host} is the path that {socket.name} already listens on; dockerd unlinks "
                    "and re-creates it, which orphans systemd's socket and leaves early clients "
                    "hanging. Use fd:// for that path.",
                )
            )
    if uses_fd and not socket.unix_paths:
        detection.findings.append(
            Finding(
                "socket_without_unix_path",
                INFO,
                f"{socket.name} has no ListenStream path; fd:// may not be a unix socket.",
            )
        )
