"""The real /bin/sh as the oracle for the sh reader: source a file and report its variables.

Each run uses ``env -i`` with only ``HOME`` set, an empty working directory
(so a glob in a value matches no file), and stdin and stdout of the sourced
file sent to /dev/null. Only variable files go through here, never init
scripts: sourcing runs whatever commands a file holds.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SH = "/bin/sh"
TIMEOUT = 10  # seconds; sourcing a variable file takes milliseconds

_ASSIGNED_NAME = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)=")
_DECLARED_NAME = re.compile(r"\b(?:export|readonly|unset)[ \t]+([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class ShRun:
    """The outcome of sourcing one file: exit status, stderr and the variables that are set."""

    returncode: int
    stderr: str
    values: dict[str, str]
    completed: bool  # the shell reached the end of the file and printed the variables


def candidate_names(text: str) -> list[str]:
    """Return every name that ``text`` might assign, export or unset."""
    return sorted(set(_ASSIGNED_NAME.findall(text)) | set(_DECLARED_NAME.findall(text)))


def write_file(directory: Path, text: str) -> Path:
    """Write ``text`` byte for byte (no newline translation) to a file in ``directory``."""
    path = directory / "variables"
    path.write_bytes(text.encode())
    return path


def source(path: Path, names: list[str], home: Path, workdir: Path) -> ShRun:
    """Source ``path`` with /bin/sh and return which of ``names`` are set, and to what."""
    for name in names:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), name
    printed = " ".join(f'"${{{name}+set}}" "${{{name}-}}"' for name in names)
    script = f'. "$1" >/dev/null </dev/null; printf "%s\\0" done {printed}'
    proc = _run(script, path, home, workdir)

    fields = proc.stdout.split(b"\0")
    completed = proc.returncode == 0 and fields[0] == b"done"
    values = {}
    if completed:
        for index, name in enumerate(names):
            if fields[1 + 2 * index] == b"set":
                values[name] = fields[2 + 2 * index].decode()
    return ShRun(proc.returncode, proc.stderr.decode(errors="replace"), values, completed)


def split_unquoted(path: Path, name: str, home: Path, workdir: Path) -> list[str]:
    """Return the words of an unquoted ``$name`` after sourcing ``path``."""
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), name
    script = f'. "$1" >/dev/null </dev/null; printf "%s\\0" done ${name}'
    proc = _run(script, path, home, workdir)
    fields = proc.stdout.split(b"\0")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert fields[0] == b"done", proc.stderr.decode(errors="replace")
    return [field.decode() for field in fields[1:-1]]


def _run(script: str, path: Path, home: Path, workdir: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["env", "-i", f"HOME={home}", SH, "-c", script, "sh", str(path)],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
