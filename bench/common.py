"""Shared helpers of the bench scripts: paths, the machine, statistics, host trees and output.

A bench script measures one thing, alternating the sides it compares within
one run, and prints a Markdown section with the exact command, the machine
and each figure beside its target. ``--json PATH`` also writes the raw
samples, so a figure can be checked or recomputed later.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
PYTHON = str(VENV / "bin" / "python")
DHCONF = str(VENV / "bin" / "dhconf")
# The Debian package's stack: Debian's Python with python3-typer 0.7.0, python3-jinja2 and python3-dbus.
SYSTEM_PYTHON = "/usr/bin/python3"
CORPUS = Path(os.environ.get("DHCONF_CORPUS") or REPO.parent / "shared" / "corpus")

UBUNTU_OS_RELEASE = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n'

# Corpus files for the trees that detect reads, as tests/test_set_cases.py lays them out.
UPSTREAM_UNIT = "upstream/moby-v29.0.0-docker.service"
UPSTREAM_SOCKET = "upstream/moby-v29.0.0-docker.socket"
DEBIAN_STYLE_UNIT = "user-posted/ubuntu-docker.service-docker-daemon-default-opts"
UBUNTU_SOCKET = "ubuntu/ubuntu-docker.io-20.10.21-0ubuntu3-docker.socket"
DEBIAN_DEFAULT = "debian/debian-docker.io-1.11.2-etc-default-docker"


def corpus_text(name: str) -> str:
    path = CORPUS / name
    if not path.is_file():
        raise SystemExit(f"bench: corpus file {str(path)!r} not found; set DHCONF_CORPUS to the corpus directory")
    return path.read_text()


def make_tree(root: Path, files: dict[str, str], *, os_release: str = UBUNTU_OS_RELEASE) -> Path:
    """Lay out a host tree for ``dhconf --root``: os-release, a running systemd, ``files``."""
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text(os_release)
    (root / "run/systemd/system").mkdir(parents=True, exist_ok=True)
    for host_path, text in files.items():
        target = root / host_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def upstream_tree(root: Path) -> Path:
    """Docker CE's unit and socket at /lib/systemd/system, Debian's /etc/default/docker beside them."""
    return make_tree(root, {
        "/lib/systemd/system/docker.service": corpus_text(UPSTREAM_UNIT),
        "/lib/systemd/system/docker.socket": corpus_text(UPSTREAM_SOCKET),
        "/etc/default/docker": corpus_text(DEBIAN_DEFAULT),
    })


def debian_style_tree(root: Path, default_text: str | None = None) -> Path:
    """Lay out a unit that loads /etc/default/docker and expands $DOCKER_OPTS, with Ubuntu's socket."""
    return make_tree(root, {
        "/lib/systemd/system/docker.service": corpus_text(DEBIAN_STYLE_UNIT),
        "/lib/systemd/system/docker.socket": corpus_text(UBUNTU_SOCKET),
        "/etc/default/docker": corpus_text(DEBIAN_DEFAULT) if default_text is None else default_text,
    })


# Statistics --------------------------------------------------------------


@dataclass
class Summary:
    """Median and spread of one series of samples."""

    n: int
    median: float
    q1: float
    q3: float
    low: float
    high: float

    def to_json(self) -> dict[str, float]:
        return {"n": self.n, "median": self.median, "q1": self.q1, "q3": self.q3, "min": self.low, "max": self.high}


def summarize(values: Sequence[float]) -> Summary:
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return Summary(len(ordered), statistics.median(ordered), q1, q3, ordered[0], ordered[-1])


def ms(summary: Summary) -> str:
    """Format seconds as 'median ms (IQR q1–q3, min–max)'."""
    return (f"{summary.median * 1000:.1f} ms (IQR {summary.q1 * 1000:.1f}–{summary.q3 * 1000:.1f}, "
            f"range {summary.low * 1000:.1f}–{summary.high * 1000:.1f})")


def ratio(summary: Summary) -> str:
    return f"{summary.median:.2f}x (IQR {summary.q1:.2f}–{summary.q3:.2f}, range {summary.low:.2f}–{summary.high:.2f})"


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


# Running commands --------------------------------------------------------


@dataclass
class Timing:
    """One run of a command: wall time, CPU time of the process and its children, the result."""

    wall: float
    cpu: float
    completed: subprocess.CompletedProcess[str]


def timed_run(argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 120.0,
              check: bool = True) -> Timing:
    """Run ``argv`` with output captured and time it.

    CPU time (user + system, from the rusage of reaped children) suffers less
    than wall time from other work on a shared machine.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and completed.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(argv)!r} exited with status {completed.returncode}:\n"
            f"{completed.stderr[-3000:]}{completed.stdout[-2000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu, completed)


@contextlib.contextmanager
def bytecode_cache() -> Iterator[Path]:
    """Let every Python started in the block cache bytecode in a temp directory.

    An installed package runs from compiled bytecode. With
    PYTHONDONTWRITEBYTECODE=1 and no cache, each start would compile
    dhconf's modules from source again, which the user never pays. The
    prefix keeps the cache out of the repository and the system paths.
    """
    saved = {name: os.environ.get(name) for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    with tempfile.TemporaryDirectory(prefix="dhconf-bench-pycache-") as directory:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = directory
        try:
            yield Path(directory)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def rotated(items: Sequence[Any], round_index: int) -> list[Any]:
    """Return ``items`` starting at a different one each round, so no side always goes first."""
    shift = round_index % len(items)
    return [*items[shift:], *items[:shift]]


# Describing the run ------------------------------------------------------


def machine() -> dict[str, str]:
    """nproc, memory, CPU model, kernel, Python and tool versions."""
    cpu = "unknown"
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        cpu = match.group(1).strip() if match else cpu
    except OSError:
        pass
    # free -h: "Mem:  total used free shared buff/cache available"
    memory = _first_line_matching(["free", "-h"], "Mem:").split()
    return {
        "nproc": _output(["nproc"]),
        "memory": f"{memory[1]} total, {memory[6]} available" if len(memory) >= 7 else "unknown",
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "typer": _package_version("typer"),
        "dockerd": _output(["dockerd", "--version"]),
        "systemd": _first_line_matching(["systemctl", "--version"], "systemd"),
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30).stdout.strip()
    except OSError:
        return "unavailable"


def _first_line_matching(argv: list[str], prefix: str) -> str:
    for line in _output(argv).splitlines():
        if line.startswith(prefix):
            return line.strip()
    return ""


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


@dataclass
class Report:
    """A Markdown section and the raw data behind it."""

    title: str
    command: str
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, line: str = "") -> None:
        self.lines.append(line)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + "---|" * len(header))
        for row in rows:
            self.add("| " + " | ".join(row) + " |")
        self.add()

    def emit(self, json_path: str | None) -> None:
        host = machine()
        print(f"## {self.title}\n")
        print(f"Command: `{self.command}`\n")
        print(f"Machine: {host['nproc']} CPUs ({host['cpu']}), memory {host['memory']}; "
              f"Linux {host['kernel']}, Python {host['python']}, typer {host['typer']}, "
              f"{host['dockerd']}, {host['systemd']}; load average at the end {host['load']}\n")
        print("\n".join(self.lines))
        if json_path:
            document = {"title": self.title, "command": self.command, "machine": host, **self.data}
            Path(json_path).write_text(json.dumps(document, indent=2) + "\n")


def argument_parser(description: str, rounds: int) -> argparse.ArgumentParser:
    """Return the parser of the options every bench script takes: --rounds and --json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=rounds, help=f"measured rounds (default {rounds})")
    parser.add_argument("--json", metavar="PATH", help="also write the raw samples to PATH")
    return parser


def arguments(description: str, rounds: int) -> argparse.Namespace:
    return argument_parser(description, rounds).parse_args()


def command_line() -> str:
    """Return the command that ran this script, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        relative = script.relative_to(REPO)
    except ValueError:
        relative = script
    return " ".join([".venv/bin/python", str(relative), *sys.argv[1:]])
