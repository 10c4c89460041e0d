"""Read every source of dockerd's bindings on a host, the way dockerd's own starter reads it.

``detect`` finds the platform, then follows the init system that starts the
daemon: a systemd unit with its drop-ins and environment files, or an init
script with the shell variable file it sources. It then applies daemon.json
and dockerd's defaults, and collects findings about the result.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from collections.abc import Mapping

from dhconf import checks
from dhconf.detection import Detection, Source, SocketUnit
from dhconf.errors import SourceError
from dhconf.findings import ERROR, INFO, WARNING, Finding
from dhconf.platform import (
    INIT_OPENRC,
    INIT_SYSTEMD,
    INIT_SYSVINIT,
    INIT_UNKNOWN,
    INIT_UPSTART,
    detect_platform,
    find_service_name,
)
from dhconf.rootfs import RootFS
from dhconf.sources import command as cmd
from dhconf.sources.daemonjson import DEFAULT_PATH, SNAP_PATH, DaemonJson, read_daemon_json

log = logging.getLogger(__name__)

# snapd's unit for the docker snap's daemon.
SNAP_SERVICE = "snap.docker.dockerd"

# Variables that carry daemon options in the files that distributions ship.
OPTIONS_VARIABLES = ("DOCKER_OPTS", "OPTIONS", "other_args", "DOCKER_NETWORK_OPTIONS", "DOCKER_OPTIONS")
# Files that hold such variables on one family or another.
OPTIONS_FILES = (
    "/etc/default/docker",
    "/etc/sysconfig/docker",
    "/etc/sysconfig/docker-network",
    "/etc/conf.d/docker",
)


def detect(
    fs: RootFS,
    *,
    scope: str = "system",
    unit: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Detection:
    """Read the host at ``fs`` and return what dockerd will listen on, with findings."""
    environ = os.environ if environ is None else environ
    service = find_service_name(fs, unit)
    platform = detect_platform(fs, service=service, scope=scope, environ=environ)
    if unit is None and platform.install == "snap":
        service = SNAP_SERVICE
    detection = Detection(platform=platform, service=service, scope=scope, environ=environ)
    log.debug("detect %s on %s: init %s", service, fs.root, platform.init)

    if platform.init == INIT_SYSTEMD:
        _read_systemd(detection, fs, environ)
    elif scope == "user" and platform.init != INIT_UNKNOWN:
        # A per-user daemon under OpenRC or another init is dockerd-rootless with no -H:
        # the system's init script and its variable file belong to the system daemon.
        detection.command = [cmd.Word("dockerd-rootless.sh", cmd.Origin("unit", None))]
        detection.form = cmd.classify_command(detection.argv)
    elif platform.init in (INIT_SYSVINIT, INIT_UPSTART, INIT_OPENRC):
        _read_init_script(detection, fs)
    else:
        detection.findings.append(
            Finding(
                "init_unknown",
                ERROR,
                f"cannot tell how {service} is started: systemd is not running and there is no "
                f"/etc/init.d/{service} or /etc/init/{service}.conf. Install docker, or give --unit.",
            )
        )

    _read_daemon_json(detection, fs, environ)
    checks.settle_hosts(detection, environ)
    if platform.init == INIT_SYSTEMD:
        _read_socket_unit(detection, fs, environ)
    checks.run_checks(detection)
    return detection


def _read_systemd(detection: Detection, fs: RootFS, environ: Mapping[str, str]) -> None:
    from dhconf.sources.unit import load_unit

    name = f"{detection.service}.service"
    loaded = load_unit(fs, name, scope=detection.scope, environ=environ)
    if loaded is None:
        detection.findings.append(
            Finding(
                "unit_not_found",
                ERROR,
                f"systemd is running but no {name} was found in the unit directories; "
                "install docker, or give the unit with --unit.",
            )
        )
        return
    detection.unit = loaded
    detection.findings.extend(loaded.findings)

    values, origins = _unit_variables(detection, fs, loaded)
    if not loaded.exec_start:
        return
    command, setting = loaded.exec_start[-1]
    origin = cmd.Origin("unit", setting.path, setting.line)
    argv = list(command.argv)
    if cmd.classify_command(argv).form == cmd.FORM_SHELL:
        # systemd passes the script as one word; sh expands $VAR in it from the environment.
        inner = cmd.shell_command_words(argv[2])
        words = cmd.expand_shell_words(inner, origin, values, origins)
        detection.shell_wrapped = True
        detection.expanded_variables = {name for name in map(cmd.variable_name, inner) if name}
    else:
        words = cmd.expand_systemd_words(argv, origin, values, origins)
        detection.expanded_variables = _referenced_variables(argv)
    detection.command = words
    detection.form = cmd.classify_command(detection.argv)
    if detection.form.form == cmd.FORM_UNKNOWN:
        detection.findings.append(
            Finding(
                "command_unknown",
                WARNING,
                f"{setting.path}:{setting.line}: ExecStart runs {argv[0]!r}, which is not dockerd; "
                "dhconf reads -H flags on its command line but cannot tell what that program passes on.",
                path=setting.path,
                line=setting.line,
            )
        )
    _note_unread_options(detection, fs, loaded)


def _referenced_variables(argv: list[str]) -> set[str]:
    names: set[str] = set()
    for word in argv:
        name = cmd.variable_name(word)
        if name:
            names.add(name)
        names.update(cmd.BRACED_VARIABLE.findall(word))
    return names


def _unit_variables(
    detection: Detection, fs: RootFS, loaded: object
) -> tuple[dict[str, str], dict[str, cmd.Origin]]:
    """Collect the variables the unit's process gets: Environment=, then each EnvironmentFile=."""
    from dhconf.sources.envfile import parse_environment_file

    values: dict[str, str] = {}
    origins: dict[str, cmd.Origin] = {}
    for setting in loaded.settings:
        if setting.key != "Environment" or setting.section != "Service":
            continue
        for name in loaded.environment:
            if f"{name}=" in setting.value:
                origins[name] = cmd.Origin("environment", setting.path, setting.line, name)
    values.update(loaded.environment)

    for ref in loaded.environment_files:
        try:
            text = fs.read_text(ref.path)
        except SourceError as err:
            detection.findings.append(Finding("source_unreadable", ERROR, err.message, path=ref.path))
            continue
        if text is None:
            if not ref.optional:
                detection.findings.append(
                    Finding(
                        "environment_file_missing",
                        ERROR,
                        f"{ref.setting.path}:{ref.setting.line}: EnvironmentFile={ref.path} does not "
                        "exist and is not marked optional with '-': systemd fails to start the unit.",
                        path=ref.setting.path,
                        line=ref.setting.line,
                    )
                )
            continue
        parsed = parse_environment_file(text, ref.path)
        detection.variable_files[ref.path] = parsed
        detection.findings.extend(parsed.findings)
        detection.findings.extend(_multiline_findings(parsed))
        for name, value in parsed.values.items():
            values[name] = value
            assignment = parsed.last(name)
            origins[name] = cmd.Origin(
                "env-file", ref.path, assignment.line if assignment else None, name
            )
    return values, origins


def _multiline_findings(parsed: object) -> list[Finding]:
    """Point at values that run over several lines: a quote closed on a later line."""
    findings = []
    for assignment in parsed.assignments:
        if assignment.end_line > assignment.line and "\n" in assignment.value:
            findings.append(
                Finding(
                    "envfile_multiline_value",
                    WARNING,
                    f"{parsed.path}:{assignment.line}-{assignment.end_line}: the value of "
                    f"{assignment.name} runs over {assignment.end_line - assignment.line + 1} lines "
                    "because its quote closes on a later line; systemd keeps the newline inside it. "
                    "Put the whole value on one line.",
                    path=parsed.path,
                    line=assignment.line,
                )
            )
    return findings


def _note_unread_options(detection: Detection, fs: RootFS, loaded: object) -> None:
    """Report option variables in well-known files that the effective unit never reads."""
    from dhconf.sources.shellvars import read_shell_variables, split_shell_words

    loaded_files = {ref.path for ref in loaded.environment_files}
    for path in OPTIONS_FILES:
        if path in loaded_files:
            parsed = detection.variable_files.get(path)
        else:
            try:
                text = fs.read_text(path)
            except SourceError:
                continue
            if text is None:
                continue
            parsed = read_shell_variables(text, path)
        if parsed is None:
            continue
        for name, value in parsed.values.items():
            if path in loaded_files and name in detection.expanded_variables:
                continue
            hosts = _host_texts(split_shell_words(value))
            if not hosts and (name not in OPTIONS_VARIABLES or not value.strip()):
                continue
            assignment = parsed.last(name)
            line = assignment.line if assignment else None
            detection.sources.append(
                Source("env-file" if path in loaded_files else "shell-file", path, hosts, False, name, line)
            )
            if path in loaded_files:
                reason = (
                    f"{loaded.name} loads {path} but its ExecStart does not expand ${name}"
                    + _expanded_hint(detection)
                )
            else:
                reason = f"{loaded.name} ({loaded.fragment_path}) does not load {path}"
            detection.findings.append(
                Finding(
                    "options_not_read",
                    WARNING if hosts else INFO,
                    f"{name} in {path} has no effect: {reason}. Its value {value!r} is ignored; "
                    "dhconf writes bindings where they take effect.",
                    path=path,
                    line=line,
                )
            )


def _expanded_hint(detection: Detection) -> str:
    names = sorted(detection.expanded_variables)
    if not names:
        return ""
    return " (it expands " + ", ".join(f"${name}" for name in names) + ")"


def _host_texts(words: list[str]) -> list[str]:
    from dhconf.hosts import find_host_flags

    return [flag.value for flag in find_host_flags(words) if flag.value is not None]


def _read_init_script(detection: Detection, fs: RootFS) -> None:
    """Read the variable file that an init script or upstart job sources, as /bin/sh reads it."""
    from dhconf.sources.shellvars import read_shell_variables

    service = detection.service
    platform = detection.platform
    script_path = (
        f"/etc/init/{service}.conf" if platform.init == INIT_UPSTART else f"/etc/init.d/{service}"
    )
    script = fs.read_text(script_path) or ""
    path, variable = _script_options(detection, script)
    detection.script_options = (path, variable)
    origin = cmd.Origin("shell-file", path, None, variable)

    try:
        text = fs.read_text(path)
    except SourceError as err:
        detection.findings.append(Finding("source_unreadable", ERROR, err.message, path=path))
        text = None
    values: dict[str, str] = {}
    origins: dict[str, cmd.Origin] = {}
    if text is not None:
        parsed = read_shell_variables(text, path)
        detection.variable_files[path] = parsed
        detection.findings.extend(parsed.findings)
        values = dict(parsed.values)
        assignment = parsed.last(variable)
        origins[variable] = cmd.Origin("shell-file", path, assignment.line if assignment else None, variable)

    binary = _script_binary(script, service)
    head = [binary] if posixpath.basename(binary).startswith("dockerd") else [binary, "-d"]
    detection.command = [cmd.Word(word, cmd.Origin("unit", script_path)) for word in head]
    detection.command += cmd.expand_shell_words([f"${variable}"], origin, values, origins)
    detection.expanded_variables = {variable}
    detection.form = cmd.classify_command(detection.argv)


_BINARY_ASSIGNMENT = re.compile(r"^\s*(?:DOCKERD|DOCKER|exec|command)=[\"']?([^\s\"'}]+)", re.M)


def _script_binary(script: str, service: str) -> str:
    """Return the daemon binary an init script or job runs (``DOCKER=/usr/bin/$UPSTART_JOB`` included)."""
    for match in _BINARY_ASSIGNMENT.finditer(script):
        path = match.group(1).replace("${UPSTART_JOB}", service).replace("$UPSTART_JOB", service)
        if path.startswith("/") and "$" not in path:
            return path
    return "/usr/bin/dockerd" if "dockerd" in script else "/usr/bin/docker"


def _script_options(detection: Detection, script: str) -> tuple[str, str]:
    """Return the variable file and variable that an init script passes to the daemon."""
    service = detection.service
    family = detection.platform.family
    if detection.platform.init == INIT_OPENRC:
        path = f"/etc/conf.d/{service}"
    elif "/etc/sysconfig/" in script:
        path = f"/etc/sysconfig/{service}"
    elif "/etc/default/" in script or family.options_file is None:
        path = f"/etc/default/{service}"
    else:
        path = family.options_file
    for variable in ("DOCKER_OPTS", "other_args", "OPTIONS"):
        if f"${variable}" in script or f"${{{variable}}}" in script:
            return path, variable
    return path, family.options_variable or "DOCKER_OPTS"


def daemon_json_path(detection: Detection, environ: Mapping[str, str]) -> str:
    """Return the daemon.json that this dockerd reads: --config-file, the snap's, rootless, or the default."""
    argv = detection.argv
    for index, word in enumerate(argv):
        if word.startswith("--config-file="):
            return word.partition("=")[2]
        if word == "--config-file" and index + 1 < len(argv):
            return argv[index + 1]
    if detection.platform.install == "snap":
        return SNAP_PATH
    if detection.scope == "user" or (detection.form and detection.form.form == cmd.FORM_ROOTLESS):
        config_home = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME", "/root"), ".config")
        return os.path.join(config_home, "docker", "daemon.json")
    return DEFAULT_PATH


def _read_daemon_json(detection: Detection, fs: RootFS, environ: Mapping[str, str]) -> None:
    path = daemon_json_path(detection, environ)
    try:
        daemon_json = read_daemon_json(fs, path)
    except SourceError as err:
        detection.findings.append(Finding("source_unreadable", ERROR, err.message, path=path))
        daemon_json = DaemonJson(path=path, exists=True)
    detection.daemon_json = daemon_json
    detection.findings.extend(daemon_json.findings)


def _read_socket_unit(detection: Detection, fs: RootFS, environ: Mapping[str, str]) -> None:
    from dhconf.sources.unit import load_unit

    name = f"{detection.service}.socket"
    loaded = load_unit(fs, name, scope=detection.scope, environ=environ)
    if loaded is None or loaded.masked:
        return
    streams = [value for value in loaded.values("ListenStream", "Socket") if value]
    detection.socket = SocketUnit(name, loaded.fragment_path, streams)
    uses_fd = any(host.is_fd for host in detection.hosts)
    paths = [f"unix://{value}" for value in streams if value.startswith("/")]
    detection.sources.append(
        Source("socket", loaded.fragment_path, paths, uses_fd, reader="systemd")
    )
