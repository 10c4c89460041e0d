"""The output target of a systemd unit, and its last lines after a failed start.

A failed restart is only useful to the admin with the daemon's own words
("address already in use"). systemd sends a service's output to the journal
by default, or to a file with ``StandardOutput=``/``StandardError=``
``file:``, ``append:`` or ``truncate:``. Over D-Bus, systemd 252 reports only
the kind (``append``), not the path, so the path is read from the unit's
fragment and drop-ins. A mark taken before the restart lets the reader return
only what the new attempt wrote.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

FILE_OUTPUTS = ("file", "append", "truncate")
JOURNAL_OUTPUTS = ("journal", "journal+console", "kmsg", "kmsg+console", "syslog", "syslog+console")

MAX_LINES = 20
_MAX_READ = 64 * 1024  # bytes read from the end of an output file
_JOURNALCTL_TIMEOUT = 10.0

PropertyGetter = Callable[[str, str], object]


@dataclass(frozen=True)
class OutputMark:
    """The position of the unit's output before a restart.

    ``path`` is the output file, or None when the output goes to the journal
    (``journal`` true) or nowhere readable. ``offset`` is the file's size and
    ``since`` the wall-clock time when the mark was taken.
    """

    unit: str
    user: bool
    kind: str
    path: str | None
    offset: int
    since: float

    @property
    def journal(self) -> bool:
        return self.kind in JOURNAL_OUTPUTS


def mark_output(get_property: PropertyGetter, unit: str, *, user: bool) -> OutputMark:
    """Find where ``unit`` writes its stderr and remember how far it has written."""
    kind, path = _stderr_target(get_property, unit)
    offset = 0
    if path is not None:
        try:
            offset = os.stat(path).st_size
        except OSError:
            offset = 0
    return OutputMark(unit=unit, user=user, kind=kind, path=path, offset=offset, since=time.time())


def read_output(mark: OutputMark, *, max_lines: int = MAX_LINES) -> tuple[str, list[str]]:
    """Return where the output was read from and its last ``max_lines`` lines since ``mark``."""
    if mark.path is not None:
        return mark.path, _read_file_since(mark.path, mark.offset, max_lines)
    if mark.journal:
        return _read_journal(mark, max_lines)
    return f"StandardError={mark.kind}", []


_LOGRUS_MESSAGE = re.compile(r'\blevel=(?:fatal|error)\b.*?\bmsg="((?:[^"\\]|\\.)*)"')


def key_line(lines: Sequence[str]) -> str | None:
    """Return the daemon's own last fatal or error message, the line an admin needs first.

    dockerd logs through logrus (``level=fatal msg="failed to start daemon: ..."``);
    its error on exit is also printed bare on stderr.
    """
    for line in reversed(lines):
        match = _LOGRUS_MESSAGE.search(line)
        if match:
            return match.group(1).replace('\\"', '"')
    for line in reversed(lines):
        lowered = line.lower()
        if "level=" not in lowered and ("failed" in lowered or "error" in lowered):
            return line.strip()
    return None


def format_output(source: str, lines: Sequence[str]) -> str:
    """Format output lines for an error message: the daemon's own error first, then the tail."""
    if not lines:
        return f"The daemon wrote nothing to {source} during this attempt."
    body = "\n".join(f"  {line}" for line in lines)
    cause = key_line(lines)
    lead = f"The daemon said: {cause}\n" if cause else ""
    return f"{lead}Last lines of the daemon's output ({source}):\n{body}"


def _stderr_target(get_property: PropertyGetter, unit: str) -> tuple[str, str | None]:
    """Return the kind of the unit's stderr target and, for a file, its path."""
    name = "StandardError"
    kind = str(get_property(unit, name))
    if kind == "inherit":
        # StandardError=inherit means "the same as StandardOutput".
        name = "StandardOutput"
        kind = str(get_property(unit, name))
    if kind not in FILE_OUTPUTS:
        return kind, None

    files = [str(get_property(unit, "FragmentPath"))]
    drop_ins = get_property(unit, "DropInPaths")
    if isinstance(drop_ins, (list, tuple)):
        files.extend(str(path) for path in drop_ins)
    path = output_file_from_unit_files([path for path in files if path], name)
    if path is None:
        log.debug("Cannot find the %s file of %s in %s", name, unit, files)
    return kind, path


def output_file_from_unit_files(paths: Sequence[str], name: str) -> str | None:
    """Return the file that the last ``name=file:PATH`` (or append:, truncate:) in ``paths`` names.

    ``paths`` are the fragment and then the drop-ins, in the order systemd
    applies them. An empty assignment resets the setting. For
    ``StandardError``, an assignment of ``inherit`` is followed to
    ``StandardOutput``.
    """
    value = _last_assignment(paths, name)
    if name == "StandardError" and value in (None, "inherit"):
        value = _last_assignment(paths, "StandardOutput")
    if value is None:
        return None
    kind, _, path = value.partition(":")
    if kind in FILE_OUTPUTS and path.startswith("/"):
        # NOTE: unit specifiers such as %h or %t in the path are not expanded.
        # Such a path is returned as written, and reading it then fails.
        return path
    return None


def _last_assignment(paths: Sequence[str], name: str) -> str | None:
    value = None
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as unit_file:
                lines = unit_file.read().splitlines()
        except OSError as err:
            log.debug("Cannot read unit file %s: %s", path, err)
            continue
        section = ""
        for line in lines:
            stripped = line.strip()
            if not stripped or stripped[0] in "#;":
                continue
            if stripped.startswith("[") and stripped.endswith("]"):
                section = stripped[1:-1]
                continue
            key, sep, assigned = stripped.partition("=")
            if section == "Service" and sep and key.strip() == name:
                value = assigned.strip() or None
    return value


def _read_file_since(path: str, offset: int, max_lines: int) -> list[str]:
    try:
        with open(path, "rb") as output_file:
            size = os.fstat(output_file.fileno()).st_size
            if size < offset:
                offset = 0  # truncated since the mark (StandardOutput=truncate:)
            output_file.seek(max(offset, size - _MAX_READ))
            data = output_file.read()
    except OSError as err:
        log.warning("Cannot read the daemon's output file %s: %s", path, err)
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-max_lines:]


def _read_journal(mark: OutputMark, max_lines: int) -> tuple[str, list[str]]:
    unit_option = "--user-unit" if mark.user else "--unit"
    # journalctl takes "@" plus seconds since the epoch; one second of slack
    # keeps lines logged in the same second as the mark.
    argv = [
        "journalctl", "--no-pager", "--quiet", "--output=cat",
        f"{unit_option}={mark.unit}", f"--since=@{int(mark.since) - 1}",
        f"--lines={max_lines}",
    ]
    source = f"journalctl {unit_option}={mark.unit}"
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, errors="replace",
            timeout=_JOURNALCTL_TIMEOUT, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        log.warning("Cannot read the journal of %s: %s", mark.unit, err)
        return source, []
    if completed.returncode != 0:
        log.warning(
            "journalctl exited with status %d for %s: %s",
            completed.returncode, mark.unit, completed.stderr.strip(),
        )
    return source, completed.stdout.splitlines()[-max_lines:]
