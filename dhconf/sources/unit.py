"""systemd unit files: the unit with its drop-ins, and the settings that take effect.

The line syntax follows systemd's ``config_parse`` (src/shared/conf-parser.c).
The results were checked against a systemd 252 user manager, through its
``DropInPaths``, ``ExecStart`` and ``Environment`` properties.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dhconf.errors import UnitSyntaxError
from dhconf.findings import ERROR, INFO, WARNING, Finding
from dhconf.rootfs import RootFS
from dhconf.sources.execstart import Command, parse_command_lines
from dhconf.sources.unitpaths import find_dropins, find_fragment, is_masked, unit_search_paths
from dhconf.sources.unitwords import WHITESPACE, resolve_specifiers, specifiers_in, split_setting_words

log = logging.getLogger(__name__)

_EXEC_KEYS = frozenset(
    {"ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost"}
)
# The form of a setting name. Any other key, such as "--flag" on a line left
# over from a broken continuation, is unknown to systemd, so it ignores the line.
_KEY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Setting:
    """One ``Key=value`` assignment, starting at ``line`` (1-based) of ``path`` (a host path)."""

    section: str
    key: str
    value: str
    path: str
    line: int


@dataclass
class EnvironmentFileRef:
    path: str
    optional: bool
    setting: Setting


@dataclass
class LoadedUnit:
    name: str
    fragment_path: str | None
    masked: bool
    dropin_paths: list[str] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    exec_start: list[tuple[Command, Setting]] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    environment_files: list[EnvironmentFileRef] = field(default_factory=list)
    service_type: str | None = None
    findings: list[Finding] = field(default_factory=list)

    def values(self, key: str, section: str = "Service") -> list[str]:
        """Return the effective values of a list setting: an empty assignment clears the earlier ones."""
        values: list[str] = []
        for setting in self.settings:
            if setting.section != section or setting.key != key:
                continue
            if setting.value:
                values.append(setting.value)
            else:
                values.clear()
        return values


def parse_unit_text(text: str, path: str) -> tuple[list[Setting], list[Finding]]:
    """Split a unit file or drop-in into settings, as systemd reads it.

    Comment lines start with ``#`` or ``;``, and there are no inline comments.
    A line that ends in an odd number of backslashes continues on the next
    line, and that backslash becomes a space. Comment lines inside a
    continuation are skipped. Lines end at LF, CR LF or CR.
    """
    settings: list[Setting] = []
    findings: list[Finding] = []
    section: str | None = None
    previous: tuple[Setting, int] | None = None  # the last setting, and the line it ends on

    for start, end, logical in _logical_lines(text.removeprefix("\ufeff")):
        line = logical.strip(WHITESPACE)
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                findings.append(_finding(
                    "unit_syntax", ERROR,
                    f"invalid section header {line!r}: systemd stops reading the file there and fails "
                    "to load the unit. Close the header with ']'",
                    path, start,
                ))
                break
            section = line[1:-1]
            previous = None
            continue
        if section is None:
            findings.append(_finding(
                "unit_assignment_outside_section", WARNING,
                f"{line!r} comes before any [Section] header, so systemd ignores it. Put it under "
                "its section: a drop-in must repeat the [Service] header",
                path, start,
            ))
            continue
        key, equals, value = line.partition("=")
        key = key.strip(WHITESPACE)
        if equals and _KEY_NAME.fullmatch(key):
            setting = Setting(section, key, value.strip(WHITESPACE), path, start)
            settings.append(setting)
            previous = (setting, end)
            continue
        if not equals:
            reason = "as a line without '='"
        elif not key:
            reason = "as a line without a key before '='"
        else:
            reason = f"as the unknown key {key!r}"
        if previous is not None and previous[1] + 1 == start:
            findings.append(_broken_continuation(line, reason, previous, path, start, end))
            previous = (previous[0], end)
            continue
        findings.append(_finding(
            "unit_line_ignored", WARNING,
            f"systemd ignores {line!r} {reason}. Write it as Key=value under a section header",
            path, start,
        ))
    return settings, findings


def load_unit(
    fs: RootFS, name: str, *, scope: str = "system", environ: Mapping[str, str] | None = None
) -> LoadedUnit | None:
    """Load ``name`` (``docker.service``) and its drop-ins from ``fs`` and merge them as systemd does.

    Returns None when neither a unit file nor a drop-in exists.
    """
    # NOTE: SYSTEMD_UNIT_PATH, template instances (foo@bar.service) and alias
    # names are not followed. Docker's packaged units use none of them.
    search = unit_search_paths(scope, environ)
    fragment = find_fragment(fs, name, search)
    if fragment is not None and is_masked(fs, fragment):
        return _masked_unit(fs, name, fragment)

    dropins, masked_dropins = find_dropins(fs, name, search)
    if fragment is None and not dropins and not masked_dropins:
        return None

    unit = LoadedUnit(name, fragment, masked=False, dropin_paths=dropins)
    for path in masked_dropins:
        unit.findings.append(_finding(
            "dropin_masked", INFO,
            f"the drop-in {path} links to /dev/null, so it sets nothing and masks every drop-in "
            "of that name in lower-priority directories",
            path,
        ))
    if fragment is None:
        unit.findings.append(_finding(
            "unit_fragment_missing", ERROR,
            f"{name} not found: it has drop-ins ({', '.join(dropins)}) but no unit file in the search "
            f"path, and systemd reports such a unit as not found. Install the package that ships "
            f"{name}, or give the right unit name with --unit",
        ))
    for path in ([fragment] if fragment else []) + dropins:
        settings, findings = parse_unit_text(fs.read_text(path) or "", path)
        unit.settings.extend(settings)
        unit.findings.extend(findings)
    _apply_settings(unit)
    log.debug("Loaded %s from %s with %d drop-ins", name, fragment, len(dropins))
    return unit


def _logical_lines(text: str):
    """Yield (first line number, last line number, text) of each line, with continuations joined."""
    pending: str | None = None
    start = 0
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    for number, raw in enumerate(lines, 1):
        stripped = raw.lstrip(WHITESPACE)
        if stripped[:1] in ("#", ";"):
            continue
        if pending is None:
            start, pending = number, raw
        else:
            pending += raw
        trailing = len(pending) - len(pending.rstrip("\\"))
        if trailing % 2:
            pending = pending[:-1] + " "
            continue
        yield start, number, pending
        pending = None
    if pending is not None:
        yield start, len(lines), pending


def _broken_continuation(
    line: str, reason: str, previous: tuple[Setting, int], path: str, start: int, end: int
) -> Finding:
    setting, last = previous
    lines = f"line {start} does" if start == end else f"lines {start}-{end} do"
    text = " ".join(line.split())
    return _finding(
        "unit_broken_continuation", WARNING,
        f"{lines} not continue {setting.key}= from line {setting.line}: line {last} does not end "
        f"in '\\', so systemd ends {setting.key}= there and ignores {text!r} {reason}. Those words "
        f"never reach the setting. End line {last} with ' \\' to continue {setting.key}=",
        path, start,
    )


def _masked_unit(fs: RootFS, name: str, fragment: str) -> LoadedUnit:
    mask = "links to /dev/null" if fs.resolve(fragment) == "/dev/null" else "is empty"
    unit = LoadedUnit(name, fragment, masked=True)
    unit.findings.append(_finding(
        "unit_masked", ERROR,
        f"{name} is masked: {fragment} {mask}, so systemd does not start it. Run "
        f"'systemctl unmask {name}' if docker should run",
        fragment,
    ))
    return unit


def _apply_settings(unit: LoadedUnit) -> None:
    """Compute ExecStart, Environment, EnvironmentFile and Type from the merged settings."""
    rejected = False
    for setting in unit.settings:
        if setting.section != "Service":
            continue
        if setting.key in _EXEC_KEYS:
            rejected |= _apply_exec(unit, setting)
        elif setting.key == "Environment":
            if not setting.value:
                unit.environment.clear()
                continue
            unit.environment.update(_environment_assignments(setting, unit.findings))
        elif setting.key == "EnvironmentFile":
            if not setting.value:
                unit.environment_files.clear()
                continue
            ref = _environment_file_ref(setting, unit.findings)
            if ref is not None:
                unit.environment_files.append(ref)
        elif setting.key == "Type":
            unit.service_type = setting.value or None
    if unit.name.endswith(".service") and not rejected:
        _check_exec_start(unit)


def _apply_exec(unit: LoadedUnit, setting: Setting) -> bool:
    """Apply one Exec* setting, and return True when its syntax makes systemd reject the unit."""
    try:
        commands = parse_command_lines(setting.value)
    except UnitSyntaxError as err:
        fatal = bool(err.details.get("fatal"))
        consequence = (
            f"systemd rejects {unit.name} (load state bad-setting)"
            if fatal
            else f"systemd ignores this {setting.key}= line and loads {unit.name} without it"
        )
        unit.findings.append(_finding(
            "unit_syntax", ERROR if fatal else WARNING,
            f"invalid {setting.key}=, so {consequence}: {err.message}",
            setting.path, setting.line,
        ))
        return fatal and setting.key == "ExecStart"
    if setting.key != "ExecStart":
        return False
    if not commands:
        unit.exec_start.clear()
        return False
    unit.exec_start.extend((command, setting) for command in commands)
    for spec in specifiers_in(setting.value):
        unit.findings.append(_finding(
            "execstart_specifier", WARNING,
            f"ExecStart= uses the systemd specifier {spec!r}, which dhconf does not expand, so "
            "dhconf does not write a new ExecStart= from this line; change its hosts by hand or "
            "through an environment file",
            setting.path, setting.line,
        ))
    return False


def _environment_assignments(setting: Setting, findings: list[Finding]) -> dict[str, str]:
    """Return the ``NAME=value`` words of ``Environment=``, split with quotes and C escapes."""
    words, error = split_setting_words(setting.value)
    assignments: dict[str, str] = {}
    for word in words:
        name, equals, value = word.partition("=")
        try:
            value = resolve_specifiers(value)
        except UnitSyntaxError as err:
            error_text = err.message
        else:
            if equals and _ENV_NAME.fullmatch(name):
                assignments[name] = value
                continue
            error_text = "it is not NAME=value with a name of letters, digits and '_'"
        findings.append(_finding(
            "unit_setting_ignored", WARNING,
            f"systemd ignores the invalid Environment= assignment {word!r}: {error_text}",
            setting.path, setting.line,
        ))
    if error is not None:
        findings.append(_finding(
            "unit_setting_ignored", WARNING,
            f"systemd ignores the rest of Environment= from the word it cannot split: {error.message}",
            setting.path, setting.line,
        ))
    return assignments


def _environment_file_ref(setting: Setting, findings: list[Finding]) -> EnvironmentFileRef | None:
    optional = setting.value.startswith("-")
    path = setting.value[1:] if optional else setting.value
    try:
        path = resolve_specifiers(path)
    except UnitSyntaxError as err:
        problem = err.message
    else:
        if path.startswith(("/", "%")):
            return EnvironmentFileRef(re.sub("/+", "/", path), optional, setting)
        problem = f"the path {path!r} is not absolute"
    findings.append(_finding(
        "unit_setting_ignored", WARNING,
        f"systemd ignores the invalid EnvironmentFile={setting.value}: {problem}. Give an absolute path",
        setting.path, setting.line,
    ))
    return None


def _check_exec_start(unit: LoadedUnit) -> None:
    if not unit.exec_start:
        if unit.values("ExecStop") or unit.values("SuccessAction", "Unit"):
            outcome = "systemd runs only its other commands"
        else:
            outcome = "systemd rejects it: Service has no ExecStart=, ExecStop=, or SuccessAction="
        unit.findings.append(_finding(
            "execstart_missing", ERROR,
            f"{unit.name} has no ExecStart= command after resets, so no daemon starts ({outcome}). "
            "Add an ExecStart= line that runs dockerd",
            unit.fragment_path or (unit.dropin_paths[-1] if unit.dropin_paths else None),
        ))
        return
    if len(unit.exec_start) < 2 or unit.service_type == "oneshot":
        return
    command, setting = unit.exec_start[1]
    first = unit.exec_start[0][1]
    where = "" if setting.path == first.path else f" after {first.path} line {first.line}"
    unit.findings.append(_finding(
        "execstart_multiple", ERROR,
        f"systemd rejects {unit.name}: Service has more than one ExecStart= setting, which is only "
        f"allowed for Type=oneshot services. {setting.path} line {setting.line} adds "
        f"{' '.join(command.argv)!r}{where} without clearing the list. Add an empty 'ExecStart=' "
        f"line before line {setting.line} in {setting.path}",
        setting.path, setting.line,
    ))


def _finding(code: str, severity: str, message: str, path: str | None = None, line: int | None = None) -> Finding:
    return Finding(code, severity, message, path=path, line=line)
