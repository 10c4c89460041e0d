"""What the packaging tests share: a copy of the source tree, corpus host trees, commands.

Builds run in a copy of the working tree, so a build never writes into the
checkout (``build/``, ``*.egg-info``, ``debian/``) that other work shares.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pytest

from tests.test_set_cases import DEBIAN, DEBIAN_STYLE_UNIT, UPSTREAM_SOCKET, UPSTREAM_UNIT, corpus, make_tree

REPO = Path(__file__).resolve().parent.parent.parent
PACKAGING = REPO / "packaging"

# Only the system's own programs: the Debian and RPM builds must run Debian's
# python3 and its packages, not a venv or a pyenv shim earlier on PATH.
SYSTEM_PATH = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"

_NOT_SOURCE = (".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache", ".pybuild", "debian")


def copy_source_tree(destination: Path) -> Path:
    """Copy the working tree (with uncommitted changes) to ``destination``, without build output."""
    shutil.copytree(REPO, destination, ignore=shutil.ignore_patterns(*_NOT_SOURCE), symlinks=True)
    return destination


@dataclass(frozen=True)
class CorpusTree:
    """A host tree built from corpus files, and the hosts that dockerd gets from it."""

    name: str
    files: dict[str, str]
    os_release: str | None
    hosts: list[str]

    def build(self, root: Path) -> Path:
        contents = {host_path: corpus(name) for host_path, name in self.files.items()}
        if self.os_release is None:
            return make_tree(root, contents)
        return make_tree(root, contents, os_release=self.os_release)


CORPUS_TREES = (
    # Docker CE's unit: -H fd:// with docker.socket.
    CorpusTree(
        "upstream-unit",
        {"/lib/systemd/system/docker.service": UPSTREAM_UNIT, "/lib/systemd/system/docker.socket": UPSTREAM_SOCKET},
        None,
        ["fd://"],
    ),
    # A unit that expands $DOCKER_OPTS from /etc/default/docker, which sets hosts with -H=.
    CorpusTree(
        "default-opts-h-equals",
        {
            "/lib/systemd/system/docker.service": DEBIAN_STYLE_UNIT,
            "/etc/default/docker": "user-posted/moby-pr-2652-etc-default-docker-H-equals",
        },
        DEBIAN,
        ["fd://", "unix:///var/run/docker.sock", "tcp://127.0.0.1:4243"],
    ),
)

UPSTREAM_TREE = CORPUS_TREES[0]


def system_env(**extra: str) -> dict[str, str]:
    """Return the environment for system tools: system PATH, no venv, no PYTHONPATH, a UTF-8 C locale."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PATH=SYSTEM_PATH, LC_ALL="C.UTF-8", **extra)
    return env


def run(argv: Sequence[str | os.PathLike[str]], *, timeout: float = 120, check: bool = True,
        **options: object) -> subprocess.CompletedProcess[str]:
    """Run a command and, when check is set and it exits non-zero, fail the test with its output."""
    result = subprocess.run([str(arg) for arg in argv], capture_output=True, text=True, timeout=timeout, **options)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, argv))} exited {result.returncode}\n"
                    f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}")
    return result


def require(condition: bool, reason: str) -> None:
    """Skip the test when a condition it needs is false, or fail it under CI=true."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; scripts/setup installs it")
    pytest.skip(reason)


def require_tools(*names: str) -> None:
    for name in names:
        require(shutil.which(name, path=SYSTEM_PATH) is not None, f"{name} is not installed")


def shell_env(dhconf_bin: Path | None = None) -> dict[str, str]:
    """Return the environment for a shell that finds ``dhconf`` in ``dhconf_bin``, else on the system PATH."""
    env = system_env()
    if dhconf_bin is not None:
        env["PATH"] = f"{dhconf_bin}{os.pathsep}{env['PATH']}"
    return env


def bash_completions(script: Path, words: list[str], dhconf_bin: Path | None = None) -> list[str]:
    """Load the script in bash, press TAB after ``words`` and return COMPREPLY."""
    program = f"""
source {script}
COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}
_dhconf_completion dhconf
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    return run(["bash", "--norc", "-c", program], env=shell_env(dhconf_bin)).stdout.split()


def fish_completions(script: Path, words: list[str], dhconf_bin: Path) -> list[str]:
    """Load the script in fish and ask it what it completes for ``words``."""
    program = f"source {script}; complete --do-complete '{' '.join(words)}'"
    output = run(["fish", "--no-config", "-c", program], env=shell_env(dhconf_bin)).stdout
    return [line.split("\t")[0] for line in output.splitlines()]
