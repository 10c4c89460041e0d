"""The places a plan can write bindings to, and how each one is rewritten.

``env-file``: the options variable that the daemon's starter expands (systemd's
EnvironmentFile, or the file an init script sources). ``dropin``: a drop-in
that resets ExecStart and repeats the installed command with new host flags.
``unit``: the unit file's own ExecStart line. ``daemon-json``: the ``hosts`` key.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dhconf import flags as flagedit
from dhconf.detect import OPTIONS_VARIABLES
from dhconf.detection import Detection
from dhconf.errors import NotSupported
from dhconf.findings import INFO, WARNING, Finding
from dhconf.hosts import Host
from dhconf.platform import INIT_SYSTEMD
from dhconf.render import render
from dhconf.request import Request
from dhconf.rootfs import RootFS
from dhconf.sources.command import FORM_SHELL, FORM_SNAP, FORM_UNKNOWN, variable_name

DROPIN_NAME = "dhconf.conf"
_UNSAFE_VALUE = re.compile(r"[\"'\\$`]")
_TLS_KEYS = ("tls", "tlsverify", "tlscacert", "tlscert", "tlskey")


@dataclass
class EnvTarget:
    """A variable that the starter expands into dockerd's arguments, and the file that sets it."""

    path: str
    variable: str
    reader: str  # "systemd" (EnvironmentFile, also sourced by scripts on Debian) or "sh"
    value: str
    fixed_hosts: list[Host]  # hosts from other places, which this variable cannot remove


def choose_method(detection: Detection, request: Request, hosts: list[Host]) -> str:
    """Return where to write: the user's --via, or the place that takes effect."""
    systemd = detection.platform.init == INIT_SYSTEMD
    daemon_json = detection.daemon_json
    via = request.via
    if via in ("dropin", "unit") and not systemd:
        raise NotSupported(
            f"--via {via} needs systemd, but {detection.service} is started by "
            f"{detection.platform.init}; use --via env-file or --via auto"
        )
    if via == "env-file":
        target, reason = find_env_target(detection, hosts)
        if target is None:
            raise NotSupported(f"--via env-file cannot work here: {reason}; use --via dropin or --via auto")
        return via
    if detection.form is not None and detection.form.form == FORM_SNAP:
        if via not in ("auto", "daemon-json"):
            raise NotSupported(
                f"--via {via} cannot work for the docker snap: snapd generates its unit and its wrapper "
                "passes no -H; the snap reads its hosts from its daemon.json, so use --via daemon-json"
            )
        return "daemon-json"
    if via != "auto":
        return via
    if daemon_json is not None and daemon_json.hosts is not None and not detection.flag_hosts:
        return "daemon-json"
    if not systemd:
        return "env-file"
    target, _ = find_env_target(detection, hosts)
    return "env-file" if target is not None else "dropin"


def find_env_target(detection: Detection, hosts: Sequence[Host]) -> tuple[EnvTarget | None, str]:
    """Find the options variable to write, or return the reason there is none."""
    if detection.platform.init != INIT_SYSTEMD:
        path, variable = detection.script_options or (None, None)
        if path is None and detection.scope == "user":
            return None, (
                f"dhconf manages a per-user daemon through the systemd user manager only, and "
                f"this host runs {detection.platform.init}"
            )
        if path is None:
            return None, "no init script that sources an options file was found"
        return _target(detection, path, variable, "sh", hosts)

    unit = detection.unit
    if unit is None or not unit.exec_start:
        return None, "there is no effective ExecStart"
    if detection.form is None or detection.form.form == FORM_UNKNOWN:
        return None, f"ExecStart runs {detection.argv[:1]}, which is not dockerd"
    loaded_files = [ref.path for ref in unit.environment_files]
    if not loaded_files:
        return None, f"{unit.name} loads no EnvironmentFile"
    whole_words = _whole_word_variables(detection)
    candidates = [name for name in OPTIONS_VARIABLES if name in whole_words]
    if not candidates:
        expanded = ", ".join(f"${name}" for name in sorted(detection.expanded_variables)) or "no variable"
        return None, f"the ExecStart of {unit.name} expands {expanded}, none of them an options variable"
    carrying = [s.variable for s in detection.sources if s.kind == "env-file" and s.effective and s.hosts]
    preferred = detection.platform.family.systemd_variable
    ordered = sorted(
        candidates,
        key=lambda name: (name not in carrying, name != preferred, candidates.index(name)),
    )
    variable = ordered[0]
    path = _file_setting(detection, variable, loaded_files)
    return _target(detection, path, variable, "systemd", hosts)


def _whole_word_variables(detection: Detection) -> set[str]:
    """Variables that reach dockerd split into words: ``$NAME`` in ExecStart, or any $NAME in sh -c."""
    if detection.shell_wrapped:
        return set(detection.expanded_variables)
    command, _ = detection.unit.exec_start[-1]
    return {name for name in map(variable_name, command.argv) if name and f"${name}" in command.argv}


def _file_setting(detection: Detection, variable: str, loaded_files: list[str]) -> str:
    """Return the loaded file whose assignment of ``variable`` wins, or the one to add it to."""
    for path in reversed(loaded_files):
        parsed = detection.variable_files.get(path)
        if parsed is not None and variable in parsed.values:
            return path
    family_file = detection.platform.family.options_file
    if family_file in loaded_files:
        return family_file
    return loaded_files[0]


def _target(
    detection: Detection, path: str, variable: str, reader: str, hosts: Sequence[Host]
) -> tuple[EnvTarget | None, str]:
    parsed = detection.variable_files.get(path)
    value = parsed.values.get(variable, "") if parsed is not None else ""
    if _UNSAFE_VALUE.search(value):
        return None, (
            f"{variable} in {path} holds quotes, '$' or backslashes ({value!r}), which /bin/sh and "
            "systemd split differently, so dhconf does not rewrite it"
        )
    fixed = [
        host
        for host, origin in detection.flag_origins
        if not (origin.path == path and origin.variable == variable)
    ]
    missing = [host for host in fixed if host not in hosts]
    if missing:
        names = " ".join(str(host) for host in missing)
        return None, (
            f"the command line itself passes -H {names} outside {variable}, and a variable cannot "
            "remove it"
        )
    return EnvTarget(path, variable, reader, value, fixed), ""


def write_env_file(fs: RootFS, detection: Detection, plan, hosts: list[Host], tls_flags) -> None:
    target, reason = find_env_target(detection, hosts)
    if target is None:
        raise NotSupported(f"cannot write an options variable: {reason}; use --via dropin")
    own_hosts = [host for host in hosts if host not in target.fixed_hosts]
    new_value = " ".join(flagedit.edit_options(target.value.split(), own_hosts, after=0, tls_flags=tls_flags))
    _set_variable(fs, plan, target.path, target.variable, new_value, target.reader,
                  f"{target.variable} is what {detection.service}'s starter passes to dockerd")


def _set_variable(fs: RootFS, plan, path: str, variable: str, value: str, reader: str, reason: str) -> None:
    from dhconf.sources.assign import quote_value, set_variable

    before = fs.read_text(path)
    readers = "both" if reader == "systemd" else "sh"
    if before is None:
        assignment = f"{variable}={quote_value(value, readers)}"
        after = render(
            "variable-file.j2",
            variable=variable,
            reader="systemd's EnvironmentFile= and /bin/sh" if readers == "both" else "/bin/sh",
            assignment=assignment,
        )
        _add(plan, path, "create", None, after, reason)
        return
    after = set_variable(before, variable, value, reader=readers, comment="Set by dhconf: dockerd's options, with its -H bindings.")
    _add(plan, path, "update", before, after, reason)


def _add(plan, path: str, action: str, before: str | None, after: str | None, reason: str) -> None:
    from dhconf.plan import PlannedFile

    if before == after:
        return
    plan.files.append(PlannedFile(path, action, before, after, reason))


def _reject_specifiers(detection: Detection, setting) -> None:
    """Refuse to rewrite an ExecStart with systemd specifiers: argv keeps %t as text, not its value."""
    for finding in detection.unit.findings:
        if finding.code == "execstart_specifier" and finding.path == setting.path:
            raise NotSupported(
                f"the ExecStart in {setting.path} uses systemd specifiers such as %t or %h, which "
                "dhconf cannot carry over into a new ExecStart line; use --via env-file, or edit it by hand"
            )


def write_dropin(fs: RootFS, detection: Detection, plan, hosts: list[Host], tls_flags) -> None:
    from dhconf.sources.execstart import Command, format_command_line

    unit = detection.unit
    if unit is None or not unit.exec_start:
        raise NotSupported(f"no effective ExecStart for {detection.service}.service to rewrite")
    command, setting = unit.exec_start[-1]
    _reject_specifiers(detection, setting)
    form = detection.form
    if form is None or form.form in (FORM_SHELL, FORM_UNKNOWN) or detection.shell_wrapped:
        raise NotSupported(
            f"the ExecStart in {setting.path}:{setting.line} runs {command.argv[0]!r} "
            f"({' '.join(command.argv)[:80]}), which dhconf cannot rewrite safely; use --via env-file"
        )
    new_argv = flagedit.edit_options(command.argv, hosts, after=form.args_start, tls_flags=tls_flags)
    _strip_variable_hosts(fs, detection, plan, tls_flags is not None)
    if list(new_argv) == list(command.argv):
        return
    line = format_command_line(Command(command.prefixes, tuple(new_argv)))
    dropin_dir = _dropin_directory(detection)
    ours = posixpath.join(dropin_dir, DROPIN_NAME)
    if setting.path.startswith(dropin_dir + "/") and setting.path != ours:
        # An administrator's drop-in sets ExecStart already: edit that line, keep the rest,
        # and add the empty reset line when it lacks one, as systemd refuses a second command.
        replacement = f"ExecStart={line}"
        if not _has_reset_before(unit, setting):
            replacement = "ExecStart=\n" + replacement
            plan.findings.append(
                Finding(
                    "execstart_reset_added",
                    INFO,
                    f"{setting.path} set ExecStart without the empty 'ExecStart=' line before it, so "
                    "systemd refused the unit; dhconf added that line.",
                    path=setting.path,
                    line=setting.line,
                )
            )
        _replace_setting(fs, plan, setting, replacement, "the effective ExecStart is set here")
        plan.unit_changed = True
        return
    if setting.path in unit.dropin_paths and posixpath.basename(setting.path) > DROPIN_NAME:
        raise NotSupported(
            f"the effective ExecStart comes from {setting.path}, which sorts after {DROPIN_NAME} and "
            "lies outside the administrator's directory; edit that file or use --via unit"
        )
    after = render("dropin.conf.j2", unit=f"{detection.service}.service", command=line)
    before = fs.read_text(ours)
    _add(plan, ours, "update" if before is not None else "create", before, after,
         "a drop-in repeats the installed ExecStart with the new hosts; the packaged unit stays untouched")
    plan.unit_changed = True


def _has_reset_before(unit, setting) -> bool:
    """Return whether an empty ExecStart= in the same file comes before ``setting``."""
    return any(
        other.key == "ExecStart" and not other.value and other.path == setting.path and other.line < setting.line
        for other in unit.settings
    )


def _dropin_directory(detection: Detection) -> str:
    name = f"{detection.service}.service.d"
    if detection.scope == "user":
        environ = detection.environ
        config = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME", "/root"), ".config")
        return posixpath.join(config, "systemd", "user", name)
    return posixpath.join("/etc/systemd/system", name)


def _strip_variable_hosts(fs: RootFS, detection: Detection, plan, strip_tls: bool) -> None:
    """Remove host flags (and TLS flags, when rewritten) from variables that the command expands."""
    for source in detection.sources:
        if source.kind not in ("env-file", "shell-file") or not source.effective or not source.variable:
            continue
        parsed = detection.variable_files.get(source.path)
        value = parsed.values.get(source.variable, "") if parsed else ""
        words = value.split()
        has_tls = strip_tls and flagedit.has_tls_flags(words)
        if not source.hosts and not has_tls:
            continue
        if _UNSAFE_VALUE.search(value):
            raise NotSupported(
                f"{source.variable} in {source.path} carries -H flags inside a value with quotes or '$' "
                f"({value!r}); remove them by hand, then run dhconf again"
            )
        edited = flagedit.edit_options(words, [], after=0, tls_flags=[] if strip_tls else None)
        _set_variable(fs, plan, source.path, source.variable, " ".join(edited),
                      "systemd" if source.kind == "env-file" else "sh",
                      f"{source.variable} also passed -H flags; they move to one place")


def _replace_setting(fs: RootFS, plan, setting, new_line: str, reason: str) -> None:
    before = fs.read_text(setting.path) or ""
    lines = before.splitlines(keepends=True)
    start = setting.line - 1
    end = start
    while end < len(lines) and lines[end].rstrip("\r\n").endswith("\\"):
        end += 1
    newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
    lines[start : end + 1] = [new_line + newline]
    _add(plan, setting.path, "update", before, "".join(lines), reason)


def write_unit(fs: RootFS, detection: Detection, plan, hosts: list[Host], tls_flags) -> None:
    from dhconf.sources.execstart import Command, format_command_line

    unit = detection.unit
    if unit is None or not unit.exec_start or unit.fragment_path is None:
        raise NotSupported(f"no unit file with an ExecStart for {detection.service}.service")
    command, setting = unit.exec_start[-1]
    _reject_specifiers(detection, setting)
    if setting.path != unit.fragment_path:
        raise NotSupported(
            f"the effective ExecStart comes from the drop-in {setting.path}, so editing "
            f"{unit.fragment_path} would have no effect; use --via dropin"
        )
    form = detection.form
    if form is None or form.form in (FORM_SHELL, FORM_UNKNOWN) or detection.shell_wrapped:
        raise NotSupported(
            f"the ExecStart in {setting.path} is not a plain dockerd command dhconf can rewrite; use --via env-file"
        )
    new_argv = flagedit.edit_options(command.argv, hosts, after=form.args_start, tls_flags=tls_flags)
    _strip_variable_hosts(fs, detection, plan, tls_flags is not None)
    if list(new_argv) == list(command.argv):
        return
    line = format_command_line(Command(command.prefixes, tuple(new_argv)))
    _replace_setting(fs, plan, setting, f"ExecStart={line}", "--via unit edits the unit file itself")
    plan.unit_changed = True
    plan.findings.append(
        Finding(
            "unit_file_edited",
            WARNING,
            f"{setting.path} was edited in place, as --via unit asks; a package upgrade overwrites it. "
            "--via dropin survives upgrades.",
            path=setting.path,
        )
    )


def write_daemon_json(fs: RootFS, detection: Detection, plan, hosts: list[Host], tls_flags) -> None:
    daemon_json = detection.daemon_json
    if daemon_json is not None and daemon_json.exists and daemon_json.data is None:
        raise NotSupported(f"{daemon_json.path} is not valid JSON; fix it before dhconf edits it")
    data = dict(daemon_json.data or {}) if daemon_json else {}
    data["hosts"] = [str(host) for host in hosts]
    if tls_flags is not None:
        for key in _TLS_KEYS:
            data.pop(key, None)
        data.update(_tls_json(tls_flags))
    path = daemon_json.path if daemon_json else "/etc/docker/daemon.json"
    before = fs.read_text(path)
    after = dump_json(data, before)
    _add(plan, path, "update" if before is not None else "create", before, after,
         "daemon.json carries the hosts")

    if detection.flag_hosts or (tls_flags is not None and flagedit.has_tls_flags(detection.argv)):
        # Flags and daemon.json must not both set hosts: take the flags out of the command line.
        if detection.platform.init == INIT_SYSTEMD:
            write_dropin(fs, detection, plan, [], [] if tls_flags is not None else None)
        else:
            _strip_variable_hosts(fs, detection, plan, tls_flags is not None)
        plan.findings.append(
            Finding("flags_moved_to_daemon_json", INFO,
                    "the -H flags were removed from the command line because daemon.json now holds the hosts")
        )


def _tls_json(tls_flags: Sequence[str]) -> dict[str, object]:
    result: dict[str, object] = {}
    for flag in tls_flags:
        name, _, value = flag.lstrip("-").partition("=")
        if name in ("tls", "tlsverify"):
            result[name] = value != "false"
        else:
            result[name] = value
    return result


def dump_json(data: dict[str, object], previous: str | None) -> str:
    """Serialize daemon.json keeping the key order and, where it can be seen, the indentation."""
    indent: str | int = 2
    if previous:
        match = re.search(r"^([ \t]+)\"", previous, re.M)
        if match:
            indent = match.group(1)
    return json.dumps(data, indent=indent) + "\n"


def resolve_conflicts(fs: RootFS, detection: Detection, plan, method: str, tls_flags) -> None:
    """Remove daemon.json keys that would clash with the flags the plan writes."""
    daemon_json = detection.daemon_json
    if method == "daemon-json" or daemon_json is None or daemon_json.data is None:
        return
    clashing = ["hosts"] if "hosts" in daemon_json.data else []
    if tls_flags:
        clashing += [key for key in _TLS_KEYS if key in daemon_json.data]
    if not clashing:
        return
    data = {key: value for key, value in daemon_json.data.items() if key not in clashing}
    before = fs.read_text(daemon_json.path)
    _add(plan, daemon_json.path, "update", before, dump_json(data, before),
         "dockerd refuses to start when a setting is both a flag and in daemon.json")
    plan.findings.append(
        Finding(
            "conflict_removed",
            INFO,
            f"removed {', '.join(repr(key) for key in clashing)} from {daemon_json.path}: the flags now "
            "carry them, and dockerd refuses a setting given in both places.",
            path=daemon_json.path,
        )
    )


WRITERS = {
    "env-file": write_env_file,
    "dropin": write_dropin,
    "unit": write_unit,
    "daemon-json": write_daemon_json,
}
